import FlavourCore

/// One line of a request journal file (`RequestJournal`): a request accepted, with everything
/// needed to carry it out after a restart, or the end of one (its outcome was logged).
///
///     a 1764000000000000001 0000:3b:00.0 vfio synthetic d41f7c3a-2b9e-4a58-8c61-0e3f5a7b9d12 - -
///     d 1764000000000000001
///
/// Fields of `a`: id, address, flavour (`none` for a revert), origin, SYNTH_UUID, the
/// driver_flavour sequence number, options (`force,group`); `-` for none. Text that could
/// break a line (a UUID comes from a uevent) is percent-encoded.
public struct RequestRecord: Hashable, Sendable {
    public let id: UInt64
    public let address: PCIAddress
    public let flavour: String
    public let origin: RequestOrigin
    public let uuid: String?
    public let sequence: UInt64?
    public let options: RequestOptions

    enum Line: Hashable, Sendable {
        case accepted(RequestRecord)
        case finished(UInt64)
    }

    init(_ request: FlavourRequest, id: UInt64) {
        self.id = id
        address = request.address
        flavour = request.requested.description
        origin = request.origin
        uuid = request.uuid
        sequence = request.sequence
        options = request.options
    }

    private init(
        id: UInt64, address: PCIAddress, flavour: String, origin: RequestOrigin, uuid: String?, sequence: UInt64?,
        options: RequestOptions
    ) {
        self.id = id
        self.address = address
        self.flavour = flavour
        self.origin = origin
        self.uuid = uuid
        self.sequence = sequence
        self.options = options
    }

    var acceptedLine: String {
        let words = [
            "a", String(id), address.description, flavour, origin.rawValue, uuid.map(Self.encode) ?? "-",
            sequence.map(String.init) ?? "-", options.words.isEmpty ? "-" : options.words.joined(separator: ","),
        ]
        return words.joined(separator: " ") + "\n"
    }

    static func finishedLine(_ id: UInt64) -> String { "d \(id)\n" }

    /// One line (without its newline); nil for a line cut short by a crash, or not ours.
    static func parse(_ line: Substring) -> Line? {
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        if words.count == 2, words[0] == "d", let id = UInt64(words[1]) { return .finished(id) }
        guard words.count == 8, words[0] == "a", let id = UInt64(words[1]),
              let address = try? PCIAddress(parsing: String(words[2])),
              words[3] == Substring(Flavour.revertName) || Flavour.isValidName(String(words[3])),
              let origin = RequestOrigin(rawValue: String(words[4]))
        else { return nil }
        var options = RequestOptions()
        if words[7] != "-" {
            for word in words[7].split(separator: ",") {
                switch word {
                case "force": options.force = true
                case "group": options.group = true
                default: return nil
                }
            }
        }
        let sequence: UInt64?
        if words[6] == "-" { sequence = nil } else {
            guard let number = UInt64(words[6]) else { return nil }
            sequence = number
        }
        return .accepted(RequestRecord(
            id: id, address: address, flavour: String(words[3]), origin: origin,
            uuid: words[5] == "-" ? nil : decode(words[5]), sequence: sequence, options: options))
    }

    /// Bytes other than letters, digits, `-`, `.`, `_` and `:` as `%XX`.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar)) || "-._:".unicodeScalars.contains(scalar) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
            }
        }
        return result
    }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let end = utf8.index(index, offsetBy: 3, limitedBy: utf8.endIndex),
               let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index = end
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
