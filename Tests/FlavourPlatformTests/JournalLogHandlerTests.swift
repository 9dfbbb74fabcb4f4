import FlavourPlatform
import Foundation
import Logging
import Testing

/// The journald handler against a real reader of journald's native protocol.
///
/// libsystemd always sends to /run/systemd/journal/socket, so the sending side runs
/// in a child process in a private mount namespace (`unshare -m`) where a tmpfs over
/// /run carries a bind mount of this test's temporary directory, whose socket the
/// test reads. Needs root (or CAP_SYS_ADMIN); without it the test fails and says so.
@Suite struct JournalLogHandlerTests {
    static let senderRole = "journal-sender"
    static let boundMessageID = "c2b4a1e0d6f94e0e9a0d5a4f8f3b2c11"
    // Above the 8 MiB send buffer libsystemd asks for, so it must use a memfd.
    static let largeValueSize = 9 * 1024 * 1024

    @Test func entriesArriveWithJournaldFieldNamesAndValues() throws {
        let listener = try DatagramListener(socketName: "socket")
        let script = """
            set -e
            mount -t tmpfs -o mode=0755 flavour-test-run /run
            mkdir -p /run/systemd/journal
            mount --bind "$0" /run/systemd/journal
            exec "$@"
            """
        let outcome = try TestChildProcess.run(
            role: Self.senderRole,
            launcher: ["/usr/bin/unshare", "-m", "--propagation", "private", "--", "/bin/sh", "-c", script, listener.directory]
        )
        try #require(
            outcome.status == 0,
            """
            the sender in a private mount namespace failed (exit \(outcome.status)); this test needs \
            `unshare -m` and mount (root or CAP_SYS_ADMIN). Output:
            \(outcome.output)
            """
        )

        let entries = try listener.drain().map(JournalNativeProtocol.parse)
        try #require(entries.count == 3, "expected 3 journal entries, got \(entries.count); sender output:\n\(outcome.output)")

        let bound = entries[0]
        #expect(bound.map(\.name) == [
            "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
            "ATTEMPTS", "DRIVER", "DRIVER_PREVIOUS", "MESSAGE_ID", "PCI_SLOT_NAME", "REASON",
        ])
        let values = Dictionary(bound.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(values["MESSAGE"] == "Bound device")
        #expect(values["PRIORITY"] == "5")
        #expect(values["SYSLOG_IDENTIFIER"] == "flavourd")
        #expect(values["CODE_FILE"] == "FlavourPlatformTests/JournalLogHandlerTests.swift")
        #expect(values["CODE_FUNC"] == "runSender()")
        #expect(values["CODE_LINE"].flatMap { Int($0) } != nil)
        #expect(values["MESSAGE_ID"] == Self.boundMessageID)
        #expect(values["PCI_SLOT_NAME"] == "0000:03:00.0")
        #expect(values["DRIVER_PREVIOUS"] == "virtio-pci")
        #expect(values["DRIVER"] == "vfio-pci")
        #expect(values["ATTEMPTS"] == "2")
        #expect(values["REASON"] == "first line\nsecond line=still the value")

        // Too big for one datagram: libsystemd passes a sealed memfd instead.
        let large = entries[1]
        #expect(listener.receivedDescriptors == 1)
        #expect(large.first { $0.name == "MESSAGE" }?.value == "Large value")
        #expect(large.first { $0.name == "PRIORITY" }?.value == "4")
        #expect(large.first { $0.name == "PAYLOAD" }?.value == String(repeating: "x", count: Self.largeValueSize))

        #expect(entries[2].map(\.name) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "MULTI"])
        #expect(entries[2].last?.value == "a\nb\n")
    }

    /// Runs in the child, inside the private mount namespace.
    static func runSender() throws {
        let logger = Logger(label: "flavour.test") { label in
            JournalLogHandler(label: label, identifier: "flavourd", logLevel: .info)
        }
        logger.notice("Bound device", metadata: [
            "message_id": "\(boundMessageID)",
            "pci.slot_name": "0000:03:00.0",
            "driver.previous": "virtio-pci",
            "driver": "vfio-pci",
            "attempts": "2",
            "reason": "first line\nsecond line=still the value",
        ])
        logger.debug("Below the level, not sent")
        logger.warning("Large value", metadata: ["payload": "\(String(repeating: "x", count: largeValueSize))"])

        let entry = JournalEntry(fields: [
            JournalField("MESSAGE", "Direct"), JournalField("PRIORITY", "6"),
            JournalField("SYSLOG_IDENTIFIER", "flavourd"), JournalField("MULTI", "a\nb\n"),
        ])
        let result = JournalLogHandler.send(entry)
        #expect(result == 0, "sd_journal_sendv returned \(result)")
    }
}
