/// `flavour-bench [--modules-dir DIR] [--iterations N] [--naive-sample N] [--json]`.
/// Parsed by hand: the bench target has no argument-parser dependency.
struct BenchOptions {
    /// nil: the kernel `scripts/vm/fetch-kernel` unpacked, else a generated tree.
    var modulesDirectory: String?
    /// Repetitions of each timed pass; the median is reported.
    var iterations = 11
    /// Keys per form for the naive text scan (it costs ~1 ms a key).
    var naiveSample = 200
    var json = false

    static let usage = """
        usage: flavour-bench [--modules-dir DIR] [--iterations N] [--naive-sample N] [--json]
          --modules-dir DIR   a modules dir with modules.alias and modules.alias.bin
                              (default: .build/vm/kernel/*/lib/modules/* if present,
                              else a generated tree of the same shape)
          --iterations N      timed passes per measurement, median reported (default 11)
          --naive-sample N    keys per form for the naive text scan (default 200)
          --json              one JSON object on stdout instead of the table
        """

    struct UsageError: Error, CustomStringConvertible {
        let message: String
        var description: String { message + "\n" + BenchOptions.usage }
    }

    init(arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let value = rest.popFirst() else { throw UsageError(message: "\(flag) needs a value") }
            return value
        }
        func count(_ flag: String) throws(UsageError) -> Int {
            let text = try value(flag)
            guard let number = Int(text), number > 0 else {
                throw UsageError(message: "\(flag): '\(text)' is not a positive number")
            }
            return number
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--modules-dir": modulesDirectory = try value(argument)
            case "--iterations": iterations = try count(argument)
            case "--naive-sample": naiveSample = try count(argument)
            case "--json": json = true
            case "-h", "--help": throw UsageError(message: "")
            default: throw UsageError(message: "unknown argument '\(argument)'")
            }
        }
    }
}
