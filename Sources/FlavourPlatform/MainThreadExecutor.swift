import FlavourPOSIX
@_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc

/// The main actor's executor for flavourd: jobs run on the process's main thread, which
/// sleeps on a condition variable between them. Replaces libdispatch's main queue, which
/// on Linux parks the main thread in sigsuspend(2) with every signal unblocked and would
/// take the signals meant for `SignalListener`.
final class MainThreadExecutor: MainExecutor, @unchecked Sendable {
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var jobs: [UnownedJob] = []
    private var stopped = false
    /// The process's main thread: `GlobalExecutors.install()` runs there, first thing.
    private let mainThread = pthread_self()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.lock()
        jobs.append(job)
        lock.signal()
        lock.unlock()
    }

    func run() throws { try runUntil { false } }

    func runUntil(_ condition: () -> Bool) throws {
        precondition(onMainThread, "the main executor runs on the main thread")
        lock.lock()
        stopped = false
        lock.unlock()
        while !condition() {
            lock.lock()
            while jobs.isEmpty && !stopped { lock.wait() }
            if stopped {
                lock.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            lock.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
    }

    var isMainExecutor: Bool { true }

    func checkIsolated() {
        precondition(onMainThread, "expected to run on the main actor (the main thread)")
    }

    func isIsolatingCurrentContext() -> Bool? { onMainThread }

    private var onMainThread: Bool { pthread_equal(pthread_self(), mainThread) != 0 }
}
