import CFlavourShim
import CKmod
import Glibc
import Logging
import Synchronization

/// libkmod's context (`kmod_ctx`) over one modules directory: alias lookups the way
/// modprobe does them, and module loading with dependencies and softdeps.
///
/// `Sendable` because the context is only touched under one lock (libkmod is not
/// thread-safe); libkmod's log goes to the `Logger` given at init.
public final class KmodContext: Sendable {
    private let kmod: LibKmod
    private let context: Mutex<OpaquePointer>
    private let log: Unmanaged<KmodLogTarget>
    /// The modules directory libkmod reads (`/lib/modules/$(uname -r)` by default).
    public let modulesDirectory: String
    /// Why the binary indexes could not be mapped up front (e.g. no modules directory,
    /// as on NixOS or in a sandbox): lookups still work from what can be read lazily
    /// and from the configuration's `alias` lines.
    public let resourcesError: KmodError?

    /// - Parameters:
    ///   - modulesDirectory: nil for libkmod's default, `/lib/modules/$(uname -r)`.
    ///   - configPaths: files or directories of modprobe.d configuration (aliases,
    ///     softdeps, options, blacklists); nil for the system's (/etc/modprobe.d, ...).
    ///   - logger: receives libkmod's own messages.
    ///   - library: libkmod (opened on first use); a missing one is this init's error.
    public init(
        modulesDirectory: String? = nil, configPaths: [String]? = nil, logger: Logger = Logger(label: "kmod"),
        library: Result<LibKmod, KmodError> = LibKmod.shared
    ) throws(KmodError) {
        let kmod = try library.get()
        let api = kmod.api.pointee
        let made: OpaquePointer? = Self.withCStringArray(configPaths) { paths in
            api.kmod_new(modulesDirectory, paths)
        }
        guard let context = made else {
            throw KmodError(module: modulesDirectory ?? "default modules directory", operation: "kmod_new", errno: errno == 0 ? ENOMEM : errno)
        }
        let target = Unmanaged.passRetained(KmodLogTarget(logger: logger))
        api.kmod_set_log_priority(context, logger.logLevel <= .debug ? LOG_DEBUG : LOG_NOTICE)
        flavour_kmod_set_log(kmod.api, context, kmodLogCallback, target.toOpaque())

        let directory = api.kmod_get_dirname(context).map { String(cString: $0) } ?? (modulesDirectory ?? "")
        let loaded = api.kmod_load_resources(context)
        self.resourcesError = loaded < 0 ? KmodError(module: directory, operation: "kmod_load_resources", errno: -loaded) : nil
        self.modulesDirectory = directory
        self.log = target
        self.kmod = kmod
        self.context = Mutex(context)
    }

    deinit {
        context.withLock { context in
            flavour_kmod_set_log(kmod.api, context, nil, nil)
            _ = kmod.api.pointee.kmod_unref(context)
        }
        log.release()
    }

    /// The modules an alias resolves to, in libkmod's order (modprobe's): the first
    /// source with an answer wins (config `alias` lines, module names, symbols,
    /// install commands, modules.alias.bin, built-in aliases), and wildcard aliases
    /// come back in the index's order, not by how specific they are. With
    /// `applyingBlacklist`, modules a modprobe.d `blacklist` line names are left out, as
    /// udev leaves them out when it loads a new device's driver by its modalias.
    public func lookup(alias: String, applyingBlacklist: Bool = false) -> [String] {
        let api = kmod.api.pointee
        return context.withLock { context in
            var found: OpaquePointer?
            guard api.kmod_module_new_from_lookup(context, alias, &found) >= 0, var list = found else { return [] }
            if applyingBlacklist {
                var filtered: OpaquePointer?
                let result = api.kmod_module_apply_filter(context, KMOD_FILTER_BLACKLIST, list, &filtered)
                _ = api.kmod_module_unref_list(list)
                guard result >= 0, let filtered else { return [] }
                list = filtered
            }
            defer { _ = api.kmod_module_unref_list(list) }
            var names: [String] = []
            var entry: OpaquePointer? = list
            while let current = entry {
                if let module = api.kmod_module_get_module(current) {
                    if let name = api.kmod_module_get_name(module) {
                        names.append(String(cString: name))
                    }
                    _ = api.kmod_module_unref(module)
                }
                entry = api.kmod_list_next(list, current)
            }
            return names
        }
    }

    /// Inserts a module with its dependencies and softdeps, as `modprobe` would, but
    /// without applying the blacklist: the admin asked for this driver by name.
    /// A module that is already loaded or built in is success.
    public func load(module name: String) throws(KmodError) {
        let api = kmod.api.pointee
        let result: Int32 = context.withLock { context in
            var module: OpaquePointer?
            let made = api.kmod_module_new_from_name(context, name, &module)
            guard made >= 0, let module else { return made < 0 ? made : -ENOMEM }
            defer { _ = api.kmod_module_unref(module) }
            // flags 0: already loaded returns 0; modprobe.d install commands are honoured.
            return api.kmod_module_probe_insert_module(module, 0, nil, nil, nil, nil)
        }
        // EEXIST: another loader won the race; the module is there, which is what was asked.
        if result < 0 && result != -EEXIST {
            throw KmodError(module: name, operation: "load", errno: -result)
        }
    }

    /// Whether the module is live in the kernel or built in (`/sys/module/<name>/initstate`
    /// or modules.builtin); false while it is still initialising or going away.
    public func isLoaded(_ name: String) -> Bool {
        let api = kmod.api.pointee
        return context.withLock { context in
            var module: OpaquePointer?
            guard api.kmod_module_new_from_name(context, name, &module) >= 0, let module else { return false }
            defer { _ = api.kmod_module_unref(module) }
            let state = api.kmod_module_get_initstate(module)
            return state == Int32(KMOD_MODULE_LIVE.rawValue) || state == Int32(KMOD_MODULE_BUILTIN.rawValue)
        }
    }

    /// A NULL-terminated `char *[]` for kmod_new, or NULL for nil.
    private static func withCStringArray<Result>(
        _ strings: [String]?, _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    ) -> Result {
        guard let strings else { return body(nil) }
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// The Logger libkmod's messages go to, kept alive by the context.
final class KmodLogTarget: Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }

    /// syslog priority → swift-log level. libkmod's INFO is chatter ("context
    /// created"), so it is debug here.
    static func level(forPriority priority: Int32) -> Logger.Level {
        switch priority {
        case ...LOG_CRIT: .critical
        case LOG_ERR: .error
        case LOG_WARNING: .warning
        case LOG_NOTICE: .notice
        case LOG_INFO: .debug
        default: .trace
        }
    }
}

private let kmodLogCallback: flavour_kmod_log_fn = { context, priority, file, line, function, message in
    guard let context, let message else { return }
    let target = Unmanaged<KmodLogTarget>.fromOpaque(context).takeUnretainedValue()
    target.logger.log(
        level: KmodLogTarget.level(forPriority: priority),
        "\(String(cString: message))",
        source: "libkmod",
        file: file.map { String(cString: $0) } ?? "libkmod",
        function: function.map { String(cString: $0) } ?? "",
        line: UInt(max(line, 0))
    )
}
