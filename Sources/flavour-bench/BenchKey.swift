import FlavourCore

/// One concrete device modalias built to match one `pci:` alias pattern of the file,
/// with the pattern it was built from.
struct BenchKey {
    let pattern: AliasPattern
    let modalias: Modalias

    /// The key text under a prefix: `pci:v...` or `vfio_pci:v...`.
    func key(_ prefix: String) -> String { modalias.key(prefix: prefix) }

    /// Builds the key for a pattern of `scripts/mod/file2alias.c`'s fixed shape
    /// (`v%08X|*` `d..` `sv..` `sd..` `bc%02X|*` `sc..` `i..`, optional trailing `*`).
    /// Wildcard fields get plausible values: a vendor/device from a small set of real
    /// ids for class matches, the device's own ids as subsystem ids (the common case),
    /// and a common class. `seed` varies the picks. Nil for any other shape.
    init?(pattern: AliasPattern, seed: Int) {
        let text = Array(pattern.text.utf8)
        guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var cursor = colon + 1
        func field(_ tag: String, digits: Int) -> UInt32?? {
            let tagBytes = Array(tag.utf8)
            guard text[cursor...].starts(with: tagBytes) else { return .none }
            cursor += tagBytes.count
            if cursor < text.count, text[cursor] == UInt8(ascii: "*") {
                cursor += 1
                return .some(nil)
            }
            guard cursor + digits <= text.count else { return .none }
            var value: UInt32 = 0
            for byte in text[cursor..<cursor + digits] {
                guard let digit = Self.upperHexValue(byte) else { return .none }
                value = value << 4 | digit
            }
            cursor += digits
            return .some(value)
        }
        guard let v = field("v", digits: 8), let d = field("d", digits: 8),
              let sv = field("sv", digits: 8), let sd = field("sd", digits: 8),
              let bc = field("bc", digits: 2), let sc = field("sc", digits: 2), let i = field("i", digits: 2)
        else { return nil }
        if cursor < text.count, text[cursor] == UInt8(ascii: "*") { cursor += 1 }
        guard cursor == text.count else { return nil }

        let picked = Self.devices[seed % Self.devices.count]
        let vendor = v ?? picked.vendor
        let device = d ?? (v == nil ? picked.device : UInt32(0x1000 + seed % 0x0F00))
        let klass = Self.classes[seed % Self.classes.count]
        self.pattern = pattern
        self.modalias = Modalias(
            vendor: vendor, device: device,
            subsystemVendor: sv ?? vendor, subsystemDevice: sd ?? device,
            baseClass: UInt8(bc ?? klass.0), subClass: UInt8(sc ?? klass.1), interface: UInt8(i ?? klass.2))
    }

    static func upperHexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Real ids (Intel, NVIDIA, AMD, Broadcom, Mellanox, virtio, Red Hat) for class matches.
    static let devices: [(vendor: UInt32, device: UInt32)] = [
        (0x8086, 0x1572), (0x10DE, 0x2342), (0x1022, 0x1480), (0x14E4, 0x16D7),
        (0x15B3, 0x101E), (0x1AF4, 0x1041), (0x1B36, 0x000D),
    ]
    /// Ethernet, NVMe, VGA, xHCI, PCI bridge, SATA AHCI, other network.
    static let classes: [(UInt32, UInt32, UInt32)] = [
        (0x02, 0x00, 0x00), (0x01, 0x08, 0x02), (0x03, 0x00, 0x00), (0x0C, 0x03, 0x30),
        (0x06, 0x04, 0x00), (0x01, 0x06, 0x01), (0x02, 0x80, 0x00),
    ]
}
