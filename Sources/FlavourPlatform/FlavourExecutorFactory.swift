@_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc

/// The executors `GlobalExecutors.install()` hands to the Swift runtime.
struct FlavourExecutorFactory: ExecutorFactory {
    static let mainExecutor: any MainExecutor = MainThreadExecutor()
    static let defaultExecutor: any TaskExecutor = ThreadPoolExecutor(
        threadCount: min(max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 2), 4), name: "flavourd-task")
}
