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

    /// Writes `digits` hex digits of `value` at `index`, advancing it: for strings built
    /// byte by byte on hot paths (modaliases, addresses), where a formatter costs more
    /// than the whole string.
    static func put(
        _ value: UInt32, digits: Int, uppercase: Bool, into buffer: UnsafeMutableBufferPointer<UInt8>, at index: inout Int
    ) {
        let letters: UInt8 = uppercase ? 0x37 : 0x57  // 10 + 0x37 = "A", 10 + 0x57 = "a"
        for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt32(shift)) & 0xF
            buffer[index] = nibble < 10 ? 0x30 + nibble : letters + nibble
            index += 1
        }
    }

    /// Writes ASCII text at `index`, advancing it.
    static func put(_ text: StaticString, into buffer: UnsafeMutableBufferPointer<UInt8>, at index: inout Int) {
        text.withUTF8Buffer { bytes in
            for byte in bytes {
                buffer[index] = byte
                index += 1
            }
        }
    }
}
