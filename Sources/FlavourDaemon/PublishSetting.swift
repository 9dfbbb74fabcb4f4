import FlavourCore

/// A directory flavourd publishes a file in, as its settings hold it: named on the command line
/// (`--metrics-dir`, `--node-labels-dir`), which no configuration changes, or a default that the
/// configuration's `metrics-dir` / `node-labels-dir` line replaces.
public enum PublishSetting: Hashable, Sendable {
    case fixed(PublishDirectory)
    case standard(PublishDirectory)

    /// The directory in use with a configuration that names `configured` (nil: names none).
    public func resolved(_ configured: PublishDirectory?) -> PublishDirectory {
        switch self {
        case .fixed(let directory): directory
        case .standard(let directory): configured ?? directory
        }
    }
}
