#if canImport(Glibc)
import Glibc
#endif

/// The random numbers of the tests that draw their inputs (SplitMix64), from a seed each
/// test prints: `FLAVOUR_TEST_SEED=<seed> swift test --filter <test>` draws the same ones again.
struct SeededGenerator: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init(_ test: String = #function) {
        var system = SystemRandomNumberGenerator()
        seed = getenv("FLAVOUR_TEST_SEED").flatMap { UInt64(String(cString: $0)) } ?? system.next()
        state = seed
        print("\(test): seed \(seed) (replay with FLAVOUR_TEST_SEED=\(seed))")
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
