import FlavourPlatform
import Logging
import Testing

@Suite struct StderrLogHandlerTests {
    @Test(arguments: [
        (Logger.Level.info, "Bound device", ["pci.slot_name": "0000:03:00.0", "driver": "vfio-pci"] as Logger.Metadata,
         "INFO Bound device driver=vfio-pci pci.slot_name=0000:03:00.0"),
        (.warning, "Listening on the kernel source", ["reason": "udevd is not running"],
         #"WARNING Listening on the kernel source reason="udevd is not running""#),
        (.error, "Bind failed", ["error": #"say "no""#, "empty": ""],
         #"ERROR Bind failed empty="" error="say \"no\"""#),
        (.notice, "Two\nlines", ["value": "a\nb"],
         #"NOTICE Two\nlines value="a\nb""#),
        (.debug, "Nothing", [:], "DEBUG Nothing"),
    ])
    func linesArePlainAndOnePerEntry(level: Logger.Level, message: String, metadata: Logger.Metadata, expected: String) {
        let line = StderrLogHandler.line(level: level, message: "\(message)", metadata: metadata)
        #expect(line == expected)
        #expect(!line.contains("\n"))
    }
}
