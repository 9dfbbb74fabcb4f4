#if canImport(Glibc)
import Glibc
#endif

/// Monotonic timing and peak memory, the two things the bench reports besides counts.
enum Stopwatch {
    /// Nanoseconds on CLOCK_MONOTONIC.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Runs `body` `iterations` times; returns the median duration in nanoseconds.
    static func median(iterations: Int, _ body: () -> Void) -> UInt64 {
        var samples: [UInt64] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = now()
            body()
            samples.append(now() - start)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// The process's peak resident set so far, in KiB (getrusage's ru_maxrss on Linux).
    static func maxResidentKiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss)
    }
}

/// Keeps a computed count alive so the optimiser cannot drop the work that made it.
nonisolated(unsafe) var benchSink = 0

@inline(never)
func consume(_ count: Int) {
    benchSink &+= count
}
