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

    /// Runs `launcher + [executable] + entryArguments` with `environment` added to ours;
    /// a child still running after `timeout` is killed and reported, not waited for.
    static func run(
        role: String, launcher: [String] = [], environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) throws -> Outcome {
        try run(command: launcher + [executable] + entryArguments, environment: [roleVariable: role].merging(environment) { _, new in new },
                timeout: timeout, what: "role \(role)")
    }

    /// Runs `command` with `environment` added to ours, as `run(role:)` does.
    static func run(
        command: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60), what: String? = nil
    ) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment.merge(environment) { _, new in new }
        process.environment = childEnvironment
        // A file, not a pipe: a hung child must not block the read.
        let outputPath = NSTemporaryDirectory() + "flavour-child-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = output
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        try? output.close()
        let seconds = Double(timeout.components.seconds)
        var timedOut = false
        if exited.wait(timeout: .now() + seconds) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        if timedOut {
            return Outcome(status: -1, output: "child (\(what ?? command[0])) killed after \(timeout):\n" + text)
        }
        return Outcome(status: process.terminationStatus, output: text)
    }
}

/// The child's side: does nothing in a normal test run.
@Test func platformTestChildEntryPoint() throws {
    guard let role = ProcessInfo.processInfo.environment[TestChildProcess.roleVariable] else { return }
    switch role {
    case JournalLogHandlerTests.senderRole: try JournalLogHandlerTests.runSender()
    case ServiceNotifierTests.notifierRole: try ServiceNotifierTests.runNotifier()
    case UdevMonitorTests.netnsRole: try UdevMonitorTests.runInPrivateNetworkNamespace()
    case UdevMonitorTests.overrunRole: try UdevMonitorTests.overrunInPrivateNetworkNamespace()
    case UdevMonitorTests.actionsRole: try UdevMonitorTests.actionsInPrivateNetworkNamespace()
    case UdevMonitorTests.bothGroupsRole: try UdevMonitorTests.bothGroupsInPrivateNetworkNamespace()
    default: Issue.record("unknown child role \(role)")
    }
}
