import FlavourCore
import FlavourEngine
import FlavourPlatform
import Logging
import Synchronization

/// The binder's module loader on a real system: libkmod, with dependencies and
/// softdeps, from the modules dir the match table was read from.
///
/// The libkmod context is made the first time a module must be loaded, not before: the
/// binder loads only modules that are not live yet, so a daemon whose drivers are loaded
/// at boot never opens libkmod, its libcrypto or the modules.*.bin indexes (LibKmod).
/// A context that cannot be made is that load's error, and the next load tries again.
public struct KmodModuleLoader: ModuleLoader {
    private let modulesDirectory: String
    private let logger: Logger
    private let context = Lazy()

    public init(modulesDirectory: String, logger: Logger) {
        self.modulesDirectory = modulesDirectory
        self.logger = logger
    }

    /// Whether libkmod's context has been made (for tests and the benchmark).
    public var isOpen: Bool { context.made.withLock { $0 != nil } }

    public func load(_ module: ModuleName) throws(ModuleLoadError) {
        let kmod = try opened()
        do { try kmod.load(module: module.rawValue) } catch {
            throw ModuleLoadError(module: module.rawValue, errno: error.errno, detail: error.description)
        }
    }

    public func load(alias: String) throws(ModuleLoadError) -> [ModuleName] {
        let modules = try opened().lookup(alias: alias, applyingBlacklist: true).compactMap(ModuleName.init)
        for module in modules { try load(module) }
        return modules
    }

    private func opened() throws(ModuleLoadError) -> KmodContext {
        do {
            return try context.made.withLock { made throws(KmodError) -> KmodContext in
                if let made { return made }
                let kmod = try KmodContext(modulesDirectory: modulesDirectory, logger: logger)
                made = kmod
                return kmod
            }
        } catch {
            throw ModuleLoadError(module: "(libkmod)", errno: error.errno, detail: error.description)
        }
    }

    private final class Lazy: Sendable {
        let made = Mutex<KmodContext?>(nil)
    }
}
