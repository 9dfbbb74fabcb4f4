import FlavourPlatform
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct WorkerThreadsTests {
    final class Counters: Sendable {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let done = Atomic<Int>(0)
    }

    /// Polls `condition` every millisecond for up to five seconds.
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<5_000 {
            if condition() { return true }
            usleep(1_000)
        }
        return condition()
    }

    @Test func runsEveryJobWithNeverMoreThanTheLimitAtOnce() {
        let pool = WorkerThreads(name: "test-worker", limit: 3, linger: .milliseconds(50))
        let counters = Counters()
        for _ in 0..<200 {
            pool.run {
                let now = counters.running.add(1, ordering: .sequentiallyConsistent).newValue
                var most = counters.most.load(ordering: .sequentiallyConsistent)
                while now > most {
                    let (exchanged, original) = counters.most.compareExchange(
                        expected: most, desired: now, ordering: .sequentiallyConsistent)
                    if exchanged { break }
                    most = original
                }
                usleep(200)
                counters.running.subtract(1, ordering: .sequentiallyConsistent)
                counters.done.add(1, ordering: .sequentiallyConsistent)
            }
        }
        #expect(eventually { counters.done.load(ordering: .sequentiallyConsistent) == 200 })
        #expect(counters.most.load(ordering: .sequentiallyConsistent) <= 3)
        #expect(pool.threadCount <= 3)
    }

    /// Four jobs that each wait until all four run: they can only finish if the pool starts a
    /// thread for each while the others are busy.
    @Test func startsAThreadWhenEveryThreadIsBusy() {
        let pool = WorkerThreads(name: "test-worker", limit: 4, linger: .milliseconds(50))
        let counters = Counters()
        for _ in 0..<4 {
            pool.run {
                counters.running.add(1, ordering: .sequentiallyConsistent)
                var spins = 0
                while counters.running.load(ordering: .sequentiallyConsistent) < 4, spins < 5_000 {
                    usleep(1_000)
                    spins += 1
                }
                if counters.running.load(ordering: .sequentiallyConsistent) >= 4 {
                    counters.done.add(1, ordering: .sequentiallyConsistent)
                }
            }
        }
        #expect(eventually { counters.done.load(ordering: .sequentiallyConsistent) == 4 })
        #expect(pool.threadCount == 4)
    }

    /// Jobs one after another reuse one thread, and it ends after the linger.
    @Test func reusesAThreadAndEndsItAfterTheLinger() {
        let pool = WorkerThreads(name: "test-worker", limit: 4, linger: .milliseconds(100))
        let counters = Counters()
        for n in 1...20 {
            pool.run { counters.done.add(1, ordering: .sequentiallyConsistent) }
            #expect(eventually { counters.done.load(ordering: .sequentiallyConsistent) == n })
            #expect(eventually { pool.waitingCount == 1 })
        }
        #expect(pool.threadCount == 1)
        #expect(eventually { pool.threadCount == 0 })
    }
}
