@_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc

/// Replaces Swift Concurrency's libdispatch executors with `ThreadPoolExecutor` (the
/// global executor, Task.sleep included) and `MainThreadExecutor` (the main actor).
///
/// Why: on Linux, the first libdispatch worker thread starts a 1 Hz timer on the manager
/// thread (`_dispatch_workq_monitor_pools`, swift-corelibs-libdispatch
/// src/event/workqueue.c) that runs for the life of the process, so an idle daemon woke
/// 60 times a minute.
///
/// How: Swift 6.3's executor factory (`ExecutorFactory`, `_createExecutors`), still an
/// SPI (`ExperimentalCustomExecutors`), so a new compiler may need this file revisited.
/// The older `swift_task_enqueueGlobal_hook` is not enough on 6.3: Task.sleep and
/// main-actor jobs go to the default executor objects and bypass the hooks.
///
/// For executables only, and first thing in `main`: never from library code, so tests
/// keep the runtime's own executors.
public enum GlobalExecutors {
    /// Installs the executors. Call before any task is created.
    public static func install() {
        _createExecutors(factory: FlavourExecutorFactory.self)
    }

    /// Runs main-actor jobs on the calling (main) thread; ends the process with status 0
    /// if the main executor is ever stopped. Top-level code calls this last.
    public static func runMainLoop() -> Never {
        try? MainActor.executor.run()
        exit(0)
    }
}
