#if canImport(Glibc)
import Glibc
#endif

// flavour-bench: the match table against libkmod on a real modules.alias. Exits non-zero on errors (bad input, answers that
// differ from libkmod's), never on a missed target: it prints figures.
/// stderr without touching libc's global FILE pointer (not concurrency-safe in Swift 6).
func warn(_ message: String) {
    let bytes = Array(("flavour-bench: " + message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let options: BenchOptions
do {
    options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    warn("\(error)")
    exit(error.message.isEmpty ? 0 : 2)
}

do {
    let input = try BenchInput.resolve(options.modulesDirectory)
    defer { if let tree = input.generated { HostFiles.removeTree(tree.base) } }
    let result = try Bench(options: options, input: input).run()
    print(options.json ? BenchReport.json(result) : BenchReport.table(result))
    if result.failed {
        warn("the match table's answers differ from libkmod's or the naive scan's (see above)")
        exit(1)
    }
} catch {
    warn("\(error)")
    exit(2)
}
