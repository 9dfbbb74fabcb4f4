import FlavourCore
import FlavourEngine
import Logging
import Testing

/// The outcome vocabulary is an interface: the guest scenarios (Tests/vm/lib.sh) and users'
/// journal queries match on these names and MESSAGE_IDs, so they are spelled out here.
@Suite struct OutcomeKindTests {
    @Test(arguments: [
        (OutcomeKind.bound, "bound", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a11", Logger.Level.info, true),
        (.fellBack, "fell-back", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a12", .warning, true),
        (.unchanged, "unchanged", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a13", .info, true),
        (.failedRolledBack, "failed-rolled-back", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a14", .error, false),
        (.failedNotRestored, "failed-not-restored", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a15", .critical, false),
        (.reverted, "reverted", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a16", .info, true),
        (.revertFailed, "revert-failed", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a17", .error, false),
        (.rejected, "rejected", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a18", .warning, false),
        (.superseded, "superseded", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a19", .info, false),
        (.dropped, "dropped", "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1a", .warning, false),
    ])
    func eachKindKeepsItsNameAndMessageID(kind: OutcomeKind, name: String, messageID: String, level: Logger.Level, succeeded: Bool) {
        #expect(kind.name == name)
        #expect(OutcomeKind(rawValue: name) == kind)
        #expect(kind.messageID == messageID)
        #expect(kind.level == level)
        #expect(kind.succeeded == succeeded)
    }

    /// The other entries selected by MESSAGE_ID follow the outcomes' IDs, and never change.
    @Test(arguments: [
        (JournalNotice.stuck, "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1b", Logger.Level.warning),
        (.eventsLost, "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1c", .warning),
        (.resynced, "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1d", .notice),
    ])
    func eachNoticeKeepsItsMessageID(notice: JournalNotice, messageID: String, level: Logger.Level) {
        #expect(notice.messageID == messageID)
        #expect(notice.level == level)
        #expect(!OutcomeKind.allCases.map(\.messageID).contains(messageID))
    }

    @Test func everyKindIsListed() {
        #expect(OutcomeKind.allCases.count == 10)
        #expect(Set(OutcomeKind.allCases.map(\.messageID)).count == 10)
    }

    /// A binder's result is reported as one kind; the device ended as asked exactly when that kind says so.
    @Test(arguments: [
        (BindOutcome.Result.bound(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!), OutcomeKind.bound),
        (.fellBack(driver: DriverName("vfio-pci")!, module: ModuleName("vfio_pci")!), .fellBack),
        (.alreadyBound(driver: DriverName("vfio-pci")!), .unchanged),
        (.alreadyDefault(driver: DriverName("e1000e")!), .unchanged),
        (.failedRestored(previous: DriverName("e1000e")!), .failedRolledBack),
        (.failedNotRestored(previous: DriverName("e1000e")!, now: nil), .failedNotRestored),
        (.refused("in use"), .rejected),
        (.reverted(driver: nil), .reverted),
        (.revertFailed("no default driver took it"), .revertFailed),
        (.gone, .dropped),
    ])
    func resultsMapToKinds(result: BindOutcome.Result, kind: OutcomeKind) throws {
        #expect(OutcomeKind(result) == kind)
        let outcome = BindOutcome(
            address: try PCIAddress(parsing: "0000:00:04.0"), requested: "vfio", previousDriver: nil, result: result, attempts: [])
        #expect(outcome.succeeded == kind.succeeded)
    }
}
