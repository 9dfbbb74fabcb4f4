/// Where flavourd publishes a file for other tools to read (driver-flavour.conf(5)'s
/// `metrics-dir` and `node-labels-dir`, flavourd's `--metrics-dir` and `--node-labels-dir`):
/// a directory, or nowhere.
public enum PublishDirectory: Hashable, Sendable, CustomStringConvertible {
    case none
    case path(String)

    /// `-` for none, else an absolute path (it becomes part of a file's path: no `.` or `..`
    /// components, no empty ones but a trailing `/`).
    public init?(_ word: String) {
        if word == "-" {
            self = .none
            return
        }
        guard word.hasPrefix("/"), !word.utf8.contains(0) else { return nil }
        var components = word.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if components.last == "" { components = components.dropLast() }
        guard components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { return nil }
        self = .path("/" + components.joined(separator: "/"))
    }

    public var path: String? {
        if case .path(let path) = self { return path }
        return nil
    }

    public var description: String { path ?? "-" }
}
