import FlavourCore

/// Reads the match table's sources in order of authority: the admin's rules
/// (`<config>/*.conf`, lexical order), then the kernel's `modules.alias` and
/// `modules.builtin.alias.bin` from the modules dir. Done once and on reload, never per device.
public struct MatchTableLoader: Sendable {
    public let configDirectory: String
    public let modulesDirectory: String

    public init(configDirectory: String = DefaultPaths.configDirectory, modulesDirectory: String? = nil) {
        self.configDirectory = configDirectory
        self.modulesDirectory = modulesDirectory ?? DefaultPaths.modulesDirectory()
    }

    public struct Loaded: Sendable {
        public let config: FlavourConfig
        public let table: MatchTable
        /// Skipped alias lines and missing kernel files: worth a warning, not fatal.
        public let warnings: [String]
    }

    /// Throws when the config is broken: an unusable config must not half-apply.
    public func load(extraPrefixes: Set<String> = []) throws(ConfigError) -> Loaded {
        let config = try loadConfig()
        var warnings: [String] = []
        var table = MatchTable(entries: config.variants)
        let prefixes = config.aliasPrefixes.union(extraPrefixes)

        let aliasPath = modulesDirectory + "/modules.alias"
        var aliasLines = 0
        do {
            let result = ModulesAliasParser.parse(try FileSystem.read(aliasPath), file: aliasPath, prefixes: prefixes)
            result.entries.forEach { table.insert($0) }
            aliasLines = result.entries.last?.source.sequence ?? 0
            warnings += result.warnings.map(\.description)
        } catch {
            warnings.append("\(error.description): no kernel variant drivers will be found (run depmod?)")
        }
        let builtinPath = modulesDirectory + "/modules.builtin.alias.bin"
        if FileSystem.exists(builtinPath) {
            do {
                let (entries, skipped) = try KmodIndex.aliasEntries(
                    try FileSystem.read(builtinPath), file: builtinPath, prefixes: prefixes, firstSequence: aliasLines)
                entries.forEach { table.insert($0) }
                warnings += skipped.map(\.description)
            } catch let error as KmodIndex.FormatError {
                warnings.append(error.description)
            } catch {
                warnings.append("\(error)")
            }
        }
        return Loaded(config: config, table: table, warnings: warnings)
    }

    /// `*.conf`, but not hidden files (an editor's `.#50-site.conf` lock is a dangling link).
    public static func isConfigFile(_ name: String) -> Bool { name.hasSuffix(".conf") && !name.hasPrefix(".") }

    public func loadConfig() throws(ConfigError) -> FlavourConfig {
        var files: [(name: String, text: String)] = []
        for name in FileSystem.list(configDirectory) where Self.isConfigFile(name) {
            let path = configDirectory + "/" + name
            do {
                files.append((path, String(decoding: try FileSystem.read(path), as: UTF8.self)))
            } catch {
                throw ConfigError(problems: [.init(file: path, line: 0, message: error.description)])
            }
        }
        return try FlavourConfig.parse(files: files)
    }
}
