import FlavourCore
import FlavourEngine
import FlavourPlatform
import Logging

/// The binder's module loader on a real system: libkmod, with dependencies and
/// softdeps, from the modules dir the match table was read from.
public struct KmodModuleLoader: ModuleLoader {
    let context: KmodContext

    public init(modulesDirectory: String, logger: Logger) throws(ModuleLoadError) {
        do {
            context = try KmodContext(modulesDirectory: modulesDirectory, logger: logger)
        } catch {
            throw ModuleLoadError(module: "(libkmod)", errno: error.errno, detail: error.description)
        }
    }

    public func load(_ module: ModuleName) throws(ModuleLoadError) {
        do { try context.load(module: module.rawValue) } catch {
            throw ModuleLoadError(module: module.rawValue, errno: error.errno, detail: error.description)
        }
    }

    public func load(alias: String) throws(ModuleLoadError) -> [ModuleName] {
        let modules = context.lookup(alias: alias, applyingBlacklist: true).compactMap(ModuleName.init)
        for module in modules { try load(module) }
        return modules
    }
}
