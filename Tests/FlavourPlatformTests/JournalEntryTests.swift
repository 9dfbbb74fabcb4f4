import FlavourPlatform
import Logging
import Testing

@Suite struct JournalEntryTests {
    @Test(arguments: [
        ("pci.slot_name", "PCI_SLOT_NAME"),
        ("driver.previous", "DRIVER_PREVIOUS"),
        ("message_id", "MESSAGE_ID"),
        ("modalias", "MODALIAS"),
        ("sriov-numvfs", "SRIOV_NUMVFS"),
        ("Driver.Flavour", "DRIVER_FLAVOUR"),
        ("_trusted", "TRUSTED"),
        ("__pid", "PID"),
        ("0day", "F_0DAY"),
        ("errno", "ERRNO"),
        ("ünïcode key", "N__CODE_KEY"),
        ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"),
    ])
    func metadataKeysBecomeJournaldFieldNames(key: String, expected: String) {
        #expect(JournalEntry.fieldName(forMetadataKey: key) == expected)
    }

    @Test(arguments: ["", "_", "___", ".", "-"])
    func keysWithNothingUsableAreDropped(key: String) {
        #expect(JournalEntry.fieldName(forMetadataKey: key) == nil)
    }

    @Test func fieldNamesAreCutTo64Bytes() {
        let name = JournalEntry.fieldName(forMetadataKey: String(repeating: "a", count: 100))
        #expect(name == String(repeating: "A", count: 64))
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelsMapToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournalEntry.priority(for: level) == priority)
    }

    @Test func entryHasFixedFieldsThenSortedMetadata() {
        struct BindFailure: Error, CustomStringConvertible { var description: String { "probe failed" } }
        let entry = JournalEntry(
            level: .error,
            message: "Bind failed, rolled back",
            metadata: [
                "pci.slot_name": "0000:03:00.0",
                "driver": "mlx5_vfio_pci",
                "errno": .stringConvertible(19),
                "attempts": .array(["mlx5_vfio_pci", "vfio_pci"]),
                "device": .dictionary(["vendor": "15b3", "id.device": "101e"]),
            ],
            error: BindFailure(),
            identifier: "flavourd",
            file: "FlavourEngine/Binder.swift",
            function: "bind(_:)",
            line: 42
        )
        #expect(entry.fields == [
            JournalField("MESSAGE", "Bind failed, rolled back"),
            JournalField("PRIORITY", "3"),
            JournalField("SYSLOG_IDENTIFIER", "flavourd"),
            JournalField("CODE_FILE", "FlavourEngine/Binder.swift"),
            JournalField("CODE_LINE", "42"),
            JournalField("CODE_FUNC", "bind(_:)"),
            JournalField("ATTEMPTS", #"["mlx5_vfio_pci", "vfio_pci"]"#),
            JournalField("DEVICE_ID_DEVICE", "101e"),
            JournalField("DEVICE_VENDOR", "15b3"),
            JournalField("DRIVER", "mlx5_vfio_pci"),
            JournalField("ERRNO", "19"),
            JournalField("PCI_SLOT_NAME", "0000:03:00.0"),
            JournalField("ERROR", "probe failed"),
        ])
    }

    @Test func everyFieldNameIsValidForJournald() {
        let entry = JournalEntry(
            level: .info, message: "m",
            metadata: ["a.b": "1", "_x": "2", "9z": "3", "n": .dictionary(["-": "4", "ok": .dictionary(["deep": "5"])])],
            identifier: "flavourd", file: "f", function: "g", line: 1
        )
        for field in entry.fields {
            let bytes = Array(field.name.utf8)
            #expect(!bytes.isEmpty && bytes.count <= 64, "\(field.name)")
            #expect(bytes.first != UInt8(ascii: "_") && !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes.first!), "\(field.name)")
            #expect(bytes.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }, "\(field.name)")
        }
        #expect(entry.fields.contains(JournalField("N_OK_DEEP", "5")))
    }
}
