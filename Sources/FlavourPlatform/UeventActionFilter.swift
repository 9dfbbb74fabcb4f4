/// A classic BPF socket filter (`SO_ATTACH_FILTER`, linux/filter.h) that drops the uevents of
/// actions flavourd never acts on in the kernel, before they wake the daemon: the `bind` and
/// `unbind` echoes of every driver change (two a bind), and on the kernel's group every other
/// action (`move`, `online`, `offline`) of every subsystem. Without it each of these is
/// received, parsed whole by libudev and thrown away: about 1 ms of CPU each in the guest
/// under TCG, 10-20 µs on the build machine (`unshare -n flavourd-bench`).
///
/// It reads two message formats (systemd's `sd-device/device-monitor.c`):
/// - the kernel's: `ACTION@DEVPATH\0KEY=value\0...`; kept when it starts with one of the
///   actions and `@`, and, asked to (`pciFunctionsOnly`), when DEVPATH ends in a PCI
///   function's name (`%04x:%02x:%02x.%d`, drivers/pci/probe.c: `.` two bytes before its end,
///   `:` five and eight). That drops what a PCI monitor of the kernel's group would receive
///   and throw away: every device under `/devices/virtual/` (a container host's veth pairs,
///   each vfio group's device) and the children of PCI functions (a VF's `vfio-dev`, an NVMe
///   controller's `nvme` and block devices, a NIC's `net` interface). Classic BPF has no loops:
///   the search for DEVPATH's end is unrolled over the first 255 bytes; a longer one is left
///   to `rest`;
/// - libudev's, from udevd: the bytes `libudev\0`, the magic 0xfeedcafe (network order) at 8,
///   the properties' offset at 16 (host order), then the properties, in the kernel's order
///   (`ACTION=` first) after udevd's `UDEV_DATABASE_VERSION=1` (systemd 247 and later; the
///   test guest's udevd, systemd 252, was seen to send it first); kept when `ACTION=` is one
///   of the actions.
///
/// The filter only drops what it identifies: a message it cannot read (shorter than it needs,
/// properties elsewhere than right after the 40-byte header, `ACTION=` neither first nor right
/// after `UDEV_DATABASE_VERSION=1`, a DEVPATH longer than the search) goes on to `rest`, the
/// program libudev attached (its subsystem and tag match), unchanged. So it never drops an
/// event a PCI monitor asked for these actions would have delivered.
public enum UeventActionFilter {
    /// One instruction (`struct sock_filter`).
    public struct Instruction: Equatable, Sendable {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32

        public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }
    }

    // linux/bpf_common.h
    static let load: UInt16 = 0x00, word: UInt16 = 0x00, half: UInt16 = 0x08, byte: UInt16 = 0x10
    static let absolute: UInt16 = 0x20, length: UInt16 = 0x80
    static let jump: UInt16 = 0x05, always: UInt16 = 0x00, equal: UInt16 = 0x10, greaterOrEqual: UInt16 = 0x30
    static let constant: UInt16 = 0x00, ret: UInt16 = 0x06

    /// What a filter returns to keep a whole message, or to drop it.
    static let keep: UInt32 = 0xFFFF_FFFF
    static let drop: UInt32 = 0

    /// libudev's header: the magic (checked in network order, as libudev's own filter does)
    /// and the properties' offset, which is the header's size.
    static let magicOffset: UInt32 = 8
    static let magic: UInt32 = 0xFEED_CAFE
    static let propertiesOffsetField: UInt32 = 16
    static let headerSize: UInt32 = 40

    static let loadIndexImmediate: UInt16 = 0x01, indirect: UInt16 = 0x40  // BPF_LDX | BPF_IMM, BPF_IND
    /// Where the search for the end of a kernel message's DEVPATH starts and ends: after
    /// `add@` and the shortest PCI function path's tail (`/0000:00:00.0`), up to the last
    /// offset a conditional jump can skip over.
    static let searchStart: UInt32 = 17
    static let searchEnd: UInt32 = 255
    /// The property udevd puts before the kernel's (sd-device's database version, 1 since
    /// systemd 247).
    static let databaseVersion = Array("UDEV_DATABASE_VERSION=1\0".utf8)

    /// The program: the action checks, then `rest` (nil or empty: keep). `pciFunctionsOnly`:
    /// the kernel's messages about devices that are not PCI functions are dropped too. Nil when
    /// no action is given, an action is not plain lowercase ASCII, or a jump would not fit
    /// (never for flavourd's few short actions).
    public static func program(actions: Set<String>, pciFunctionsOnly: Bool = false, before rest: [Instruction]?) -> [Instruction]? {
        guard !actions.isEmpty, actions.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x61...0x7A).contains($0) } }) else {
            return nil
        }
        let sorted = actions.sorted()
        let longest = UInt32(sorted.map(\.utf8.count).max() ?? 0) + 1
        let action = Array("ACTION=".utf8)
        let layouts = [action, Self.databaseVersion + action]

        // Each format's checks start by making sure the message holds every byte they read (a
        // read past its end would end the program with "drop"); a shorter one goes to `rest`.
        var program = Assembler()
        program.emit(load | word | length, k: 0)
        program.jump(greaterOrEqual, k: magicOffset + 4, ifTrue: nil, ifFalse: .rest)
        program.emit(load | word | absolute, k: magicOffset)
        program.jump(equal, k: magic, ifTrue: .libudev, ifFalse: nil)
        // The kernel's format: `ACTION@` at 0.
        program.emit(load | word | length, k: 0)
        program.jump(greaterOrEqual, k: pciFunctionsOnly ? max(longest, Self.searchStart + 1) : longest, ifTrue: nil, ifFalse: .rest)
        for name in sorted {
            program.compare(Array(name.utf8) + [UInt8(ascii: "@")], at: 0, onMismatch: .nextAction)
            program.jumpAlways(to: pciFunctionsOnly ? .search : .rest)
            program.place(.nextAction)
        }
        program.emit(ret | constant, k: drop)
        if pciFunctionsOnly {
            // The first NUL ends `ACTION@DEVPATH`; it lies within every well-formed message (a
            // message without one is dropped, as libudev rejects it). X = its offset - 8.
            program.place(.search)
            for offset in Self.searchStart...Self.searchEnd {
                program.emit(load | byte | absolute, k: offset)
                program.jump(equal, k: 0, ifTrue: nil, ifFalse: .nextOffset)
                program.emit(loadIndexImmediate, k: offset - 8)
                program.jumpAlways(to: .pciName)
                program.place(.nextOffset)
            }
            program.jumpAlways(to: .rest)  // DEVPATH longer than the search: left to libudev
            program.place(.pciName)
            for (back, byte) in [(2, UInt8(ascii: ".")), (5, UInt8(ascii: ":")), (8, UInt8(ascii: ":"))] {
                program.emit(load | Self.byte | indirect, k: UInt32(8 - back))
                program.jump(equal, k: UInt32(byte), ifTrue: nil, ifFalse: .dropped)
            }
            program.jumpAlways(to: .rest)
            program.place(.dropped)
            program.emit(ret | constant, k: drop)
        }
        // libudev's format: properties right after the header, `ACTION=` in one of the layouts.
        program.place(.libudev)
        program.emit(load | word | length, k: 0)
        program.jump(greaterOrEqual, k: headerSize + UInt32(layouts.map(\.count).max() ?? 0) + longest, ifTrue: nil, ifFalse: .rest)
        program.emit(load | word | absolute, k: propertiesOffsetField)
        program.jump(equal, k: UInt32(bigEndian: headerSize), ifTrue: nil, ifFalse: .rest)
        for layout in layouts {
            program.compare(layout, at: headerSize, onMismatch: .nextLayout)
            for name in sorted {
                program.compare(Array(name.utf8) + [0], at: headerSize + UInt32(layout.count), onMismatch: .nextAction)
                program.jumpAlways(to: .rest)
                program.place(.nextAction)
            }
            program.emit(ret | constant, k: drop)
            program.place(.nextLayout)
        }
        program.place(.rest)
        let tail = rest ?? []
        return program.resolved(then: tail.isEmpty ? [Instruction(code: ret | constant, k: keep)] : tail)
    }

    /// Instructions with forward jumps to labels, resolved at the end. A label may be placed
    /// more than once (`nextAction`, once per action): a jump to it goes to its next placement.
    private struct Assembler {
        enum Label: Hashable {
            case rest, libudev, nextAction, nextLayout, search, nextOffset, pciName, dropped

            /// May lie beyond the 255 instructions a conditional jump reaches (past the search).
            var isFar: Bool { self == .rest || self == .libudev }
        }

        private var instructions: [Instruction] = []
        /// (instruction index, label, true branch?) for conditional jumps; nil branch: JA's k.
        private var pending: [(index: Int, label: Label, branch: Bool?)] = []
        private var placed: [(label: Label, at: Int)] = []

        mutating func emit(_ code: UInt16, k: UInt32) {
            instructions.append(Instruction(code: code, k: k))
        }

        /// A conditional jump; a nil target falls through to the next instruction. A jump to a
        /// far label (`Label.isFar`) goes through an unconditional jump (32-bit offset) that
        /// the other branch skips.
        mutating func jump(_ test: UInt16, k: UInt32, ifTrue: Label?, ifFalse: Label?) {
            let index = instructions.count
            let code = UeventActionFilter.jump | test | constant
            switch (ifTrue, ifFalse) {
            case (let far?, nil) where far.isFar:
                instructions.append(Instruction(code: code, jt: 0, jf: 1, k: k))
                jumpAlways(to: far)
            case (nil, let far?) where far.isFar:
                instructions.append(Instruction(code: code, jt: 1, jf: 0, k: k))
                jumpAlways(to: far)
            default:
                instructions.append(Instruction(code: code, k: k))
                if let ifTrue { pending.append((index, ifTrue, true)) }
                if let ifFalse { pending.append((index, ifFalse, false)) }
            }
        }

        mutating func jumpAlways(to label: Label) {
            pending.append((instructions.count, label, nil))
            instructions.append(Instruction(code: UeventActionFilter.jump | always, k: 0))
        }

        /// Compares `bytes` at `offset`, in words, then a half word and a byte as needed;
        /// any mismatch jumps to `label`.
        mutating func compare(_ bytes: [UInt8], at offset: UInt32, onMismatch label: Label) {
            var position = 0
            while position < bytes.count {
                let size = min(bytes.count - position, 4) == 3 ? 2 : min(bytes.count - position, 4)
                let width = size == 4 ? word : size == 2 ? half : byte
                let value = bytes[position..<(position + size)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                emit(load | width | absolute, k: offset + UInt32(position))
                jump(equal, k: value, ifTrue: nil, ifFalse: label)
                position += size
            }
        }

        mutating func place(_ label: Label) {
            placed.append((label, instructions.count))
        }

        /// The program with every jump resolved (to the first placement of its label after
        /// it), then `tail`. Nil if a conditional jump is longer than 255 instructions.
        func resolved(then tail: [Instruction]) -> [Instruction]? {
            var result = instructions
            for (index, label, branch) in pending {
                guard let target = placed.first(where: { $0.label == label && $0.at > index })?.at else { return nil }
                let distance = target - index - 1
                switch branch {
                case true?:
                    guard distance <= 255 else { return nil }
                    result[index].jt = UInt8(distance)
                case false?:
                    guard distance <= 255 else { return nil }
                    result[index].jf = UInt8(distance)
                case nil:
                    result[index].k = UInt32(distance)
                }
            }
            return result + tail
        }
    }
}
