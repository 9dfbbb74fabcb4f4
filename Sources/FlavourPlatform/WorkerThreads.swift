/// Threads for jobs that block in the kernel (a bind waits as long as a driver's probe):
/// at most `limit` at a time, started when jobs outnumber the threads waiting for one, and
/// kept for `linger` after their last job. A burst of binds reuses a few threads instead of
/// paying a thread's start and end for each bind; an idle daemon keeps none (a lingering
/// thread wakes once, at the end of its linger, and ends).
public final class WorkerThreads: @unchecked Sendable {
    private let name: String
    private let limit: Int
    private let lingerNanoseconds: UInt64
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var jobs: [@Sendable () -> Void] = []
    private var nextJob = 0
    private var threads = 0
    private var waiting = 0

    /// `name` is each thread's name in ps(1) (15 bytes kept).
    public init(name: String, limit: Int, linger: Duration = .seconds(2)) {
        self.name = name
        self.limit = max(1, limit)
        let (seconds, attoseconds) = linger.components
        lingerNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// How many threads exist now (running a job or waiting for one).
    public var threadCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return threads
    }

    /// How many of them wait for a job.
    public var waitingCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return waiting
    }

    /// Runs `job` on one of the threads, starting one when every thread is busy and fewer
    /// than `limit` exist; otherwise the job waits for the next free thread.
    public func run(_ job: @escaping @Sendable () -> Void) {
        lock.lock()
        jobs.append(job)
        let queued = jobs.count - nextJob
        let start = queued > waiting && threads < limit
        if start { threads += 1 }
        if waiting > 0 { lock.signal() }
        lock.unlock()
        if start { PosixThread.detach(name: name) { [self] in work() } }
    }

    private func work() {
        lock.lock()
        while true {
            if let job = takeJob() {
                lock.unlock()
                job()
                lock.lock()
                continue
            }
            let deadline = ConditionLock.now() &+ lingerNanoseconds
            waiting += 1
            while nextJob == jobs.count, ConditionLock.now() < deadline { lock.wait(until: deadline) }
            waiting -= 1
            if nextJob == jobs.count {
                threads -= 1
                lock.unlock()
                return
            }
        }
    }

    /// The oldest job, with the lock held; the array is compacted once it is drained.
    private func takeJob() -> (@Sendable () -> Void)? {
        guard nextJob < jobs.count else { return nil }
        let job = jobs[nextJob]
        nextJob += 1
        if nextJob == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            nextJob = 0
        }
        return job
    }
}
