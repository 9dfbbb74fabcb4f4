import FlavourCore

/// Holds a device while it changes and records the change before its first write (the crash
/// journal, `InFlightJournal`). `lock` comes first, before the device is read, so what the
/// change starts from is read while nobody else can move the device; `begin` records it (and
/// takes the lock itself when nobody did); `end` drops the record, and the lock too when
/// `begin` took it; `unlock` lets the device go. `lock` and `begin` may refuse: then nothing
/// is written.
public protocol BindStepRecorder: Sendable {
    func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal)
    func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal)
    func end(address: PCIAddress)
    func unlock(_ address: PCIAddress)
}

public struct NoStepRecorder: BindStepRecorder {
    public init() {}
    public func lock(_ address: PCIAddress) throws(InFlightRecord.Refusal) {}
    public func begin(_ record: InFlightRecord) throws(InFlightRecord.Refusal) {}
    public func end(address: PCIAddress) {}
    public func unlock(_ address: PCIAddress) {}
}
