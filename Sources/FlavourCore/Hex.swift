/// Small hex helpers on bytes: the kernel's text formats are ASCII, and working on
/// UTF-8 bytes keeps parsing of large alias files fast.
enum Hex {
    static func value(of byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Parses 1 to 8 hex digits; nil for anything else.
    static func parse<C: Collection>(_ digits: C) -> UInt32? where C.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        var result: UInt32 = 0
        for byte in digits {
            guard let digit = value(of: byte) else { return nil }
            result = result << 4 | digit
        }
        return result
    }

    static func format(_ value: UInt32, width: Int, uppercase: Bool = false) -> String {
        let digits = String(value, radix: 16, uppercase: uppercase)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
