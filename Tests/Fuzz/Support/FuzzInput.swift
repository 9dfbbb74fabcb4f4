// Shared by every fuzz target: compiled into the FlavourCore module next to the
// library sources (scripts/fuzz), so internal API is visible without @testable.

/// The fuzzer's input, split into parts at NUL bytes: the seed files under
/// `corpus/<target>/` separate their fields (pattern, text, config files...) with NUL.
struct FuzzInput {
    let bytes: [UInt8]

    init(_ start: UnsafeRawPointer, _ count: Int) {
        bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    }

    /// At most `limit` parts; the last one keeps any further NULs.
    func parts(_ limit: Int) -> [ArraySlice<UInt8>] {
        bytes[...].split(separator: 0, maxSplits: limit - 1, omittingEmptySubsequences: false)
    }

    func text(_ slice: ArraySlice<UInt8>) -> String { String(decoding: slice, as: UTF8.self) }
}

/// Traps, so libFuzzer records the input as a crash, when a property does not hold.
func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz property violated: \(message())") }
}
