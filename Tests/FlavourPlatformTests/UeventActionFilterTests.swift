import FlavourPlatform
import Foundation
import Glibc
import Testing

/// `UeventActionFilter` run by this machine's kernel: attached to one end of an AF_UNIX
/// datagram pair (a socket filter applies to any socket's receive queue), fed messages in the
/// kernel's and in libudev's formats, and judged by what the other end can receive.
@Suite struct UeventActionFilterTests {
    static let actions: Set<String> = ["add", "remove", "change"]

    /// A datagram pair whose receiving end has `program` attached.
    final class FilteredPair {
        let sender: Int32
        let receiver: Int32

        init(_ program: [UeventActionFilter.Instruction]) throws {
            var ends: [Int32] = [-1, -1]
            let made = socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends)
            sender = ends[0]
            receiver = ends[1]
            try #require(made == 0, "socketpair: \(String(cString: strerror(errno)))")
            let error = SocketFilter.attach(program, to: receiver)
            try #require(error == nil, "\(error.map { "\($0)" } ?? "")")
        }

        deinit {
            close(sender)
            close(receiver)
        }

        /// Sends each message, then returns the indices of those the receiver got.
        func kept(_ messages: [[UInt8]]) -> [Int] {
            for (index, message) in messages.enumerated() {
                var tagged = message
                tagged[tagged.count - 1] = UInt8(index)  // the last byte (a NUL) names the message
                _ = send(sender, tagged, tagged.count, 0)
            }
            var received: [Int] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(receiver, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { break }
                received.append(Int(buffer[count - 1]))
            }
            return received
        }
    }

    /// `ACTION@DEVPATH` and the kernel's first properties, as lib/kobject_uevent.c sends them.
    static func kernel(_ action: String, devpath: String = "/devices/pci0000:00/0000:00:03.0", subsystem: String = "pci") -> [UInt8] {
        Array("\(action)@\(devpath)\0ACTION=\(action)\0DEVPATH=\(devpath)\0SUBSYSTEM=\(subsystem)\0SEQNUM=4711\0".utf8)
    }

    /// A message as udevd sends it (sd-device's monitor_netlink_header, then the properties).
    static func libudev(_ properties: [String], subsystem: String = "pci", propertiesOffset: UInt32 = 40) -> [UInt8] {
        let body = Array(properties.map { $0 + "\0" }.joined().utf8) + [0]
        var header = Array("libudev\0".utf8)
        func append(_ value: UInt32, bigEndian: Bool) {
            withUnsafeBytes(of: bigEndian ? value.bigEndian : value) { header += $0 }
        }
        append(0xFEED_CAFE, bigEndian: true)
        append(40, bigEndian: false)  // header_size
        append(propertiesOffset, bigEndian: false)
        append(UInt32(body.count), bigEndian: false)
        append(murmurHash2(subsystem), bigEndian: true)
        append(0, bigEndian: true)  // devtype hash
        append(0, bigEndian: true)  // tag bloom, high and low
        append(0, bigEndian: true)
        header += [UInt8](repeating: 0, count: Int(propertiesOffset) - header.count)
        return header + body
    }

    static func pciProperties(_ action: String) -> [String] {
        ["ACTION=\(action)", "DEVPATH=/devices/pci0000:00/0000:00:03.0", "SUBSYSTEM=pci", "PCI_SLOT_NAME=0000:00:03.0", "SEQNUM=4711"]
    }

    /// MurmurHash2, seed 0: the subsystem hash libudev's header carries and its filter compares.
    static func murmurHash2(_ string: String) -> UInt32 {
        let bytes = Array(string.utf8)
        let m: UInt32 = 0x5BD1_E995
        var hash = UInt32(truncatingIfNeeded: bytes.count)
        var index = 0
        while bytes.count - index >= 4 {
            var k = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            hash = hash &* m ^ k
            index += 4
        }
        let tail = bytes.count - index
        if tail >= 3 { hash ^= UInt32(bytes[index + 2]) << 16 }
        if tail >= 2 { hash ^= UInt32(bytes[index + 1]) << 8 }
        if tail >= 1 {
            hash ^= UInt32(bytes[index])
            hash = hash &* m
        }
        hash ^= hash >> 13
        hash = hash &* m
        hash ^= hash >> 15
        return hash
    }

    static let otherActions = ["bind", "unbind", "move", "online", "offline", "added", "chang", "removed"]

    @Test func kernelMessagesOfOtherActionsAreDropped() throws {
        let pair = try FilteredPair(#require(UeventActionFilter.program(actions: Self.actions, before: nil)))
        let actions = ["add", "change", "remove"] + Self.otherActions
        #expect(pair.kept(actions.map { Self.kernel($0) }) == [0, 1, 2])
    }

    /// udevd's messages, `ACTION=` first or after `UDEV_DATABASE_VERSION=1` (as the test guest's
    /// systemd 252 sends them).
    @Test(arguments: [[], ["UDEV_DATABASE_VERSION=1"]])
    func libudevMessagesOfOtherActionsAreDropped(leading: [String]) throws {
        let pair = try FilteredPair(#require(UeventActionFilter.program(actions: Self.actions, before: nil)))
        let actions = ["add", "change", "remove"] + Self.otherActions
        #expect(pair.kept(actions.map { Self.libudev(leading + Self.pciProperties($0)) }) == [0, 1, 2])
    }

    /// Asked to, the kernel's messages about devices whose name is not a PCI function's (a
    /// container's veth, a vfio group's device, a VF's vfio-dev, an NVMe controller) are
    /// dropped whatever their action; PCI functions under any parent (VMD's five-digit
    /// domains, Hyper-V's VMBus, ten bridges deep) are kept, and udevd's messages are left to
    /// libudev's subsystem match.
    @Test func onlyPCIFunctionsAreKeptWhenAskedTo() throws {
        let vf = "/devices/pci0000:00/0000:00:02.0/0000:01:00.1"
        let deep = "/devices/pci0000:00" + (1...10).map { String(format: "/0000:%02x:00.0", $0) }.joined()
        let long = "/devices/platform/" + String(repeating: "x", count: 240) + "/0000:01:00.0"
        let messages = [
            Self.kernel("add", devpath: vf),
            Self.kernel("add", devpath: "/devices/virtual/net/veth0", subsystem: "net"),
            Self.kernel("remove", devpath: "/devices/virtual/net/veth0", subsystem: "net"),
            Self.kernel("change", devpath: "/devices/virtual/vfio/7", subsystem: "vfio"),
            Self.kernel("add", devpath: vf + "/vfio-dev/vfio0", subsystem: "vfio-dev"),
            Self.kernel("add", devpath: "/devices/pci0000:00/0000:00:03.0/nvme/nvme0", subsystem: "nvme"),
            Self.kernel("remove", devpath: "/devices/pci0000:00/0000:00:0e.0/pci10000:00/10000:00:02.0"),
            Self.kernel("add", devpath: "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/f8b3781b-1e82-4818-a1c3-63d806ec15bb/pci1e82:00/1e82:00:00.0"),
            Self.kernel("change", devpath: deep),
            Self.kernel("add", devpath: long),  // its end lies past the search: left to libudev
            Self.kernel("add", devpath: "/devices/pci0000:00/pci_bus/0000:00", subsystem: "pci_bus"),
            Self.libudev(["ACTION=add", "DEVPATH=/devices/virtual/net/veth0", "SUBSYSTEM=net", "SEQNUM=4711"], subsystem: "net"),
        ]
        let functions = try FilteredPair(#require(UeventActionFilter.program(actions: Self.actions, pciFunctionsOnly: true, before: nil)))
        #expect(functions.kept(messages) == [0, 6, 7, 8, 9, 11])
        let any = try FilteredPair(#require(UeventActionFilter.program(actions: Self.actions, before: nil)))
        #expect(any.kept(messages) == Array(messages.indices))
        // Other actions still go first: a PCI function's bind.
        #expect(functions.kept([Self.kernel("bind", devpath: vf)]) == [])
    }

    /// What the filter cannot read goes on, unjudged, to the program after it (here: keep).
    @Test func messagesItCannotReadAreLeftToTheRest() throws {
        let pair = try FilteredPair(#require(UeventActionFilter.program(actions: Self.actions, before: nil)))
        let messages = [
            Array("bind@/x\0".utf8),  // shorter than the filter reads (the magic at 8)
            Self.libudev(["ACTION=bind"]),  // shorter than its libudev checks read
            Self.libudev(Self.pciProperties("bind"), propertiesOffset: 48),  // a longer header
            Self.libudev(["DEVPATH=/devices/pci0000:00/0000:00:03.0", "ACTION=bind", "SUBSYSTEM=pci", "SEQNUM=4711"]),  // ACTION not first
            Self.libudev(["UDEV_DATABASE_VERSION=2"] + Self.pciProperties("bind")),  // a database version it does not know
            Self.libudev(["USEC_INITIALIZED=1"] + Self.pciProperties("bind")),  // another property first
            Self.libudev(Self.pciProperties("bind")),  // those it reads: dropped
            Self.libudev(["UDEV_DATABASE_VERSION=1"] + Self.pciProperties("bind")),
        ]
        #expect(pair.kept(messages) == [0, 1, 2, 3, 4, 5])
        // With the PCI check, an action longer than where the search starts: a message shorter
        // than the action is left to the rest too, a whole one of it still goes on to the check.
        let action = "averyveryverylongaction"
        let long = try FilteredPair(#require(UeventActionFilter.program(actions: [action], pciFunctionsOnly: true, before: nil)))
        #expect(long.kept([Array("\(action.dropLast(3))@\0".utf8), Self.kernel(action)]) == [0, 1])
    }

    /// On a udev-group monitor the checks go in front of libudev's own program, which still
    /// matches the subsystem: of pci and net events, only pci ones of the actions get through.
    @Test func libudevsSubsystemMatchStillApplies() throws {
        let plain = try UdevMonitor(source: .udev, subsystem: "pci")
        let filtered = try UdevMonitor(source: .udev, subsystem: "pci", actions: Self.actions)
        #expect(plain.actionFilterError == nil && filtered.actionFilterError == nil)
        let libudevs = try SocketFilter.attached(to: plain.fileDescriptor).get()
        let combined = try SocketFilter.attached(to: filtered.fileDescriptor).get()
        #expect(!libudevs.isEmpty)
        #expect(combined.count > libudevs.count && Array(combined.suffix(libudevs.count)) == libudevs)
        let pair = try FilteredPair(combined)
        let version = "UDEV_DATABASE_VERSION=1"
        let messages = [
            Self.libudev([version] + Self.pciProperties("add")),
            Self.libudev([version] + Self.pciProperties("bind")),
            Self.libudev([version, "ACTION=add", "DEVPATH=/devices/virtual/net/flv0", "SUBSYSTEM=net", "SEQNUM=4711"], subsystem: "net"),
            Self.libudev([version] + Self.pciProperties("remove")),
            Self.libudev([version] + Self.pciProperties("unbind")),
        ]
        #expect(pair.kept(messages) == [0, 3])
    }

    /// A kernel-group monitor has no libudev program (libudev cannot match a kernel message's
    /// subsystem in the kernel): the checks are the whole program.
    @Test func aKernelGroupMonitorGetsTheChecksAlone() throws {
        let plain = try UdevMonitor(source: .kernel, subsystem: "pci")
        let filtered = try UdevMonitor(source: .kernel, subsystem: "pci", actions: ["add", "change"], pciFunctionsOnly: true)
        #expect(try SocketFilter.attached(to: plain.fileDescriptor).get().isEmpty)
        let program = try SocketFilter.attached(to: filtered.fileDescriptor).get()
        #expect(program == UeventActionFilter.program(actions: ["add", "change"], pciFunctionsOnly: true, before: nil))
        let pair = try FilteredPair(program)
        let messages = ["add", "remove", "change", "bind"].map { Self.kernel($0) } + [Self.kernel("add", devpath: "/devices/virtual/vfio/7")]
        #expect(pair.kept(messages) == [0, 2])
    }

    @Test func actionsItCannotMatchGiveNoProgram() {
        #expect(UeventActionFilter.program(actions: [], before: nil) == nil)
        #expect(UeventActionFilter.program(actions: ["add", "Add"], before: nil) == nil)
        #expect(UeventActionFilter.program(actions: ["add", ""], before: nil) == nil)
        #expect(UeventActionFilter.program(actions: ["add@"], before: nil) == nil)
    }
}
