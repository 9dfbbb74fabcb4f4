import FlavourCore

/// Hears that a change starts, before its first write, and that it ended (the crash
/// journal, `InFlightJournal`). `begin` may refuse: then nothing is written.
public protocol BindStepRecorder: Sendable {
    func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal)
    func end(address: PCIAddress)
}

public struct NoStepRecorder: BindStepRecorder {
    public init() {}
    public func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {}
    public func end(address: PCIAddress) {}
}
