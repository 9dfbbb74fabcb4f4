/// What the driver_flavour module's attribute reads (docs/driver_flavour-module.md): nothing,
/// a request the daemon has not finished (with its sequence number, which its uevent carried
/// as `DRIVER_FLAVOUR_SEQNUM`), or the flavour a finished request gave the device.
public enum DriverFlavourState: Hashable, Sendable {
    case empty
    /// `vfio pending 17`: request 17 waits for the daemon (`none` is a request too).
    case pending(String, sequence: UInt64)
    /// `vfio`: carried out. An older module, which knows no pending state, reads this way too.
    case done(String)

    /// The uevent property that carries a request's sequence number.
    public static let sequenceKey = "DRIVER_FLAVOUR_SEQNUM"

    /// Parses the attribute's text (one trailing newline ignored); nil for anything else.
    public init?(reading text: String) {
        let line = text.hasSuffix("\n") ? text.dropLast() : Substring(text)
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        switch words.count {
        case 1 where line.isEmpty:
            self = .empty
        case 1 where Flavour.isValidName(String(words[0])):
            self = .done(String(words[0]))
        case 3 where Flavour.isValidName(String(words[0])) && words[1] == "pending":
            guard let sequence = UInt64(words[2]) else { return nil }
            self = .pending(String(words[0]), sequence: sequence)
        default:
            return nil
        }
    }

    /// What the daemon writes when request `sequence` ended: `done N` keeps the flavour as the
    /// device's (a `none` request is cleared), `clear N` clears it; the module refuses either
    /// with EBUSY unless request N is the one pending.
    public static func finish(_ sequence: UInt64, carriedOut: Bool) -> String {
        (carriedOut ? "done " : "clear ") + String(sequence)
    }

    /// What the daemon writes when the device no longer has `flavour` (a revert or another
    /// request moved it): clears a finished request of that flavour, never a pending one.
    public static func clear(ifDone flavour: String) -> String { "-" + flavour }
}
