/// A config that cannot be used: every bad line, each naming its file and line.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Problem: Error, Hashable, Sendable, CustomStringConvertible {
        public let file: String
        public let line: Int
        public let message: String

        public init(file: String, line: Int, message: String) {
            self.file = file
            self.line = line
            self.message = message
        }

        public var description: String { "\(file):\(line): \(message)" }
    }

    public let problems: [Problem]

    public init(problems: [Problem]) { self.problems = problems }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
