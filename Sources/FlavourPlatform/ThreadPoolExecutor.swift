@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency
import FlavourPOSIX
import Glibc

/// Swift Concurrency's default (global) executor for flavourd: a fixed set of pthreads
/// that sleep on one condition variable. Unlike libdispatch's pool it keeps no timer of
/// its own: an idle pool makes no wake-ups at all, and a thread waits with a timeout
/// only while a delayed job (`Task.sleep`) is pending.
///
/// Jobs run in arrival order (priorities are not honoured: flavourd's tasks are few and
/// short; the blocking work, binds and uevent reads, runs on threads of its own).
final class ThreadPoolExecutor: TaskExecutor, SchedulingExecutor, @unchecked Sendable {
    private struct Delayed {
        let deadline: UInt64  // CLOCK_MONOTONIC nanoseconds
        let job: UnownedJob
    }

    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var ready: [UnownedJob] = []
    private var readyStart = 0
    /// Ordered by deadline, earliest first; equal deadlines keep arrival order.
    private var delayed: [Delayed] = []

    init(threadCount: Int, name: String) {
        for index in 0..<max(1, threadCount) {
            PosixThread.detach(name: "\(name)-\(index)") { [self] in work() }
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.lock()
        ready.append(job)
        lock.signal()
        lock.unlock()
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C) {
        schedule(UnownedJob(job), after: delay)
    }

    func enqueue<C: Clock>(_ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C) {
        schedule(UnownedJob(job), after: clock.now.duration(to: instant))
    }

    /// Every clock the runtime and our dependencies use (continuous, suspending) measures
    /// in `Duration`; a clock that does not is treated as already due.
    private func schedule<D: DurationProtocol>(_ job: UnownedJob, after delay: D) {
        var nanoseconds: UInt64 = 0
        if let delay = delay as? Duration, delay > .zero {
            let (seconds, attoseconds) = delay.components
            nanoseconds = UInt64(seconds) &* 1_000_000_000 &+ UInt64(attoseconds / 1_000_000_000)
        }
        let deadline = ConditionLock.now() &+ nanoseconds
        lock.lock()
        let index = delayed.firstIndex { $0.deadline > deadline } ?? delayed.endIndex
        delayed.insert(Delayed(deadline: deadline, job: job), at: index)
        // A new earliest deadline: a waiting thread must shorten its wait.
        if index == 0 { lock.signal() }
        lock.unlock()
    }

    private func work() {
        while true {
            lock.lock()
            let job = nextJob()
            // More to do, or a deadline to watch: hand that to another sleeping thread.
            if readyStart < ready.count || !delayed.isEmpty { lock.signal() }
            lock.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// With the lock held: the next runnable job, waiting for one as long as it takes.
    private func nextJob() -> UnownedJob {
        while true {
            let now = ConditionLock.now()
            var due = 0
            while due < delayed.count, delayed[due].deadline <= now { due += 1 }
            if due > 0 {
                ready.append(contentsOf: delayed[..<due].map(\.job))
                delayed.removeFirst(due)
            }
            if readyStart < ready.count {
                let job = ready[readyStart]
                readyStart += 1
                if readyStart == ready.count {
                    ready.removeAll(keepingCapacity: true)
                    readyStart = 0
                } else if readyStart >= 1024, readyStart * 2 >= ready.count {
                    ready.removeFirst(readyStart)
                    readyStart = 0
                }
                return job
            }
            if let first = delayed.first {
                lock.wait(until: first.deadline)
            } else {
                lock.wait()
            }
        }
    }
}
