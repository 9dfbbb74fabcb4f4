import FlavourCore

/// Loads kernel modules: libkmod on a real system (with dependencies and softdeps),
/// a recording fake or the test kernel in tests.
public protocol ModuleLoader: Sendable {
    /// Inserts the module and what it depends on; succeeds when it is already loaded.
    func load(_ module: ModuleName) throws(ModuleLoadError)
    /// Loads whatever modules an alias resolves to (`modprobe pci:v...`), leaving out the
    /// modprobe.d blacklist as udev does at `add`; used to bring a default driver back on
    /// revert. Returns the modules that serve the alias (loaded now or before): empty
    /// when the device has no default driver, or only blacklisted ones.
    @discardableResult
    func load(alias: String) throws(ModuleLoadError) -> [ModuleName]
}
