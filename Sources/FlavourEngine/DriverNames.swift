import FlavourCore
import Synchronization

/// Module → the PCI driver it registered, shared by the copies of one binder.
final class DriverNames: Sendable {
    /// A struct rather than the bare dictionary: the Mutex of a concrete type needs no
    /// generic metadata built at run time (flavourd's idle RSS counts every page touched).
    private struct Names {
        var byModule: [ModuleName: DriverName] = [:]
    }

    private let names = Mutex(Names())

    subscript(module: ModuleName) -> DriverName? {
        get { names.withLock { $0.byModule[module] } }
        set { names.withLock { $0.byModule[module] = newValue } }
    }
}
