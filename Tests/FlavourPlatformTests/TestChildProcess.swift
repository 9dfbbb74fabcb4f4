import Foundation
import Testing

/// Runs parts of a test in a child process: the test binary re-executed with
/// `--filter` selecting `platformTestChildEntryPoint` and an environment variable
/// naming the role. Used where the child needs its own mount namespace (journald's
/// socket path is hard-coded in libsystemd) or its own environment (NOTIFY_SOCKET),
/// so the test process itself never changes either.
enum TestChildProcess {
    static let roleVariable = "FLAVOUR_PLATFORM_TEST_ROLE"

    struct Outcome {
        var status: Int32
        var output: String
    }

    /// The test binary, as the kernel knows it.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Arguments that make the test binary run only the child entry point.
    static var entryArguments: [String] {
        ["--testing-library", "swift-testing", "--filter", "platformTestChildEntryPoint"]
    }

    /// Runs `launcher + [executable] + entryArguments` with `environment` added to ours.
    static func run(role: String, launcher: [String] = [], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        let command = launcher + [executable] + entryArguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment[roleVariable] = role
        childEnvironment.merge(environment) { _, new in new }
        process.environment = childEnvironment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// The child's side: does nothing in a normal test run.
@Test func platformTestChildEntryPoint() throws {
    guard let role = ProcessInfo.processInfo.environment[TestChildProcess.roleVariable] else { return }
    switch role {
    case JournalLogHandlerTests.senderRole: try JournalLogHandlerTests.runSender()
    case ServiceNotifierTests.notifierRole: try ServiceNotifierTests.runNotifier()
    default: Issue.record("unknown child role \(role)")
    }
}
