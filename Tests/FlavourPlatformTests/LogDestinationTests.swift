import FlavourPlatform
import Foundation
import Glibc
import Testing

@Suite struct LogDestinationTests {
    /// A descriptor standing in for stderr, with its `<dev>:<ino>`.
    private func openStream() throws -> (descriptor: Int32, stream: String) {
        let descriptor = open("/dev/null", O_WRONLY | O_CLOEXEC)
        try #require(descriptor >= 0)
        var status = stat()
        try #require(fstat(descriptor, &status) == 0)
        return (descriptor, "\(status.st_dev):\(status.st_ino)")
    }

    @Test func journaldWhenJournalStreamNamesStderr() throws {
        let (descriptor, stream) = try openStream()
        defer { close(descriptor) }
        #expect(LogDestination.detect(environment: ["JOURNAL_STREAM": stream], standardError: descriptor) == .journald)
    }

    @Test(arguments: [nil, "", "garbage", "1:", ":2", "0:0", "1:2:3"])
    func stderrOtherwise(journalStream: String?) throws {
        let (descriptor, _) = try openStream()
        defer { close(descriptor) }
        var environment: [String: String] = [:]
        environment["JOURNAL_STREAM"] = journalStream
        #expect(LogDestination.detect(environment: environment, standardError: descriptor) == .standardError)
    }

    /// A child that inherited JOURNAL_STREAM but writes stderr elsewhere is not under journald.
    @Test func stderrWhenRedirectedAwayFromTheJournalStream() throws {
        let (descriptor, stream) = try openStream()
        defer { close(descriptor) }
        let pipeEnds = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        defer { pipeEnds.deallocate() }
        try #require(pipe(pipeEnds) == 0)
        defer { close(pipeEnds[0]); close(pipeEnds[1]) }
        #expect(LogDestination.detect(environment: ["JOURNAL_STREAM": stream], standardError: pipeEnds[1]) == .standardError)
    }
}
