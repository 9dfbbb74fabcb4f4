/// The admin's configuration: flavours, variant and deny rules, standing requests.
/// Read from `/etc/driver-flavour.d/*.conf` in lexical order; the grammar is in
/// `docs/driver-flavour.conf.5.md`:
///
///     flavour NAME PREFIX UNIVERSAL_MODULE    # PREFIX '-' for none
///     variant FLAVOUR ALIAS_PATTERN MODULE
///     deny    FLAVOUR ALIAS_PATTERN MODULE
///     request FLAVOUR SELECTOR [force] [group]
///     protect SELECTOR
///     metrics-dir DIR                         # '-' for none
///     node-labels-dir DIR                     # '-' for none
public struct FlavourConfig: Sendable {
    public private(set) var flavours: [String: Flavour] = [Flavour.vfio.name: .vfio]
    public private(set) var variants: [AliasEntry] = []
    public private(set) var denies: [DenyRule] = []
    public private(set) var requests: [StandingRequest] = []
    /// Devices never moved, whatever a request says or forces.
    public private(set) var protections: [ProtectRule] = []
    /// Where flavourd writes its Prometheus metrics (node_exporter's textfile collector); nil
    /// when no file sets it.
    public var metricsDirectory: PublishDirectory? { publishDirectories[.metrics]?.directory }
    /// Where flavourd writes its node-feature-discovery feature file; nil when no file sets it.
    public var nodeLabelsDirectory: PublishDirectory? { publishDirectories[.nodeLabels]?.directory }
    private var publishDirectories: [PublishedFile: (directory: PublishDirectory, source: AliasSource)] = [:]

    public init() {}

    public func flavour(named name: String) -> Flavour? { flavours[name] }

    /// The kernel alias prefixes the match table must index.
    public var aliasPrefixes: Set<String> { Set(flavours.values.compactMap(\.aliasPrefix)) }

    /// Parses config files given as (name, text) in the order they are read.
    /// Throws every malformed line at once; an unusable config changes nothing.
    public static func parse(files: [(name: String, text: String)]) throws(ConfigError) -> FlavourConfig {
        var config = FlavourConfig()
        var problems: [ConfigError.Problem] = []
        var pending: [(Directive, AliasSource)] = []
        var sequence = 0
        for (name, text) in files {
            // "\r\n" is one Character in Swift, not "\n": split on both, or a CRLF file is one
            // long line and a comment on it hides every directive after it.
            let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            for (index, line) in lines.enumerated() {
                let words = Self.words(of: line)
                guard !words.isEmpty else { continue }
                sequence += 1
                let source = AliasSource(kind: .admin, file: name, line: index + 1, sequence: sequence)
                do throws(ConfigError.Problem) {
                    let directive = try Directive(words: words, source: source)
                    if case .flavour(let flavour) = directive {
                        try config.define(flavour)
                    } else {
                        pending.append((directive, source))
                    }
                } catch {
                    problems.append(error)
                }
            }
        }
        // Second pass: rules may name flavours defined in a later file.
        for (directive, source) in pending {
            do throws(ConfigError.Problem) {
                try config.add(directive, source: source)
            } catch {
                problems.append(error)
            }
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return config
    }

    /// Whitespace-separated words, with `#` comments (a word starting with `#`) removed.
    static func words(of line: Substring) -> [Substring] {
        var words: [Substring] = []
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
            if word.hasPrefix("#") { break }
            words.append(word)
        }
        return words
    }

    private mutating func define(_ flavour: Flavour) throws(ConfigError.Problem) {
        if let existing = flavours[flavour.name] {
            throw flavour.source.problem(
                "flavour '\(flavour.name)' is already defined (\(existing.source)); remove one definition")
        }
        flavours[flavour.name] = flavour
    }

    private mutating func add(_ directive: Directive, source: AliasSource) throws(ConfigError.Problem) {
        func known(_ name: String) throws(ConfigError.Problem) -> Flavour {
            guard let flavour = flavours[name] else {
                let names = flavours.keys.sorted().joined(separator: ", ")
                throw source.problem("unknown flavour '\(name)' (known: \(names)); define it with 'flavour NAME PREFIX MODULE'")
            }
            return flavour
        }
        func checkPrefix(_ pattern: AliasPattern, of flavour: Flavour) throws(ConfigError.Problem) {
            guard pattern.prefix == flavour.keyPrefix else {
                throw source.problem(
                    "pattern '\(pattern.text)' must start with '\(flavour.keyPrefix):', the alias prefix of flavour '\(flavour.name)'")
            }
        }
        switch directive {
        case .flavour:
            break
        case let .variant(name, pattern, module):
            let flavour = try known(name)
            try checkPrefix(pattern, of: flavour)
            variants.append(AliasEntry(pattern: pattern, module: module, source: source, flavourName: name))
        case let .deny(name, pattern, module):
            let flavour = try known(name)
            try checkPrefix(pattern, of: flavour)
            denies.append(DenyRule(flavourName: name, pattern: pattern, module: module, source: source))
        case let .request(name, selector, options):
            _ = try known(name)
            requests.append(StandingRequest(flavourName: name, selector: selector, source: source, options: options))
        case .protect(let selector):
            protections.append(ProtectRule(selector: selector, source: source))
        case let .publish(file, directory):
            if let earlier = publishDirectories[file] {
                throw source.problem("'\(file.keyword)' is already set (\(earlier.source)); keep one line")
            }
            publishDirectories[file] = (directory, source)
        }
    }
}

/// The files flavourd publishes for other tools, each with its directory directive.
enum PublishedFile: Hashable {
    case metrics, nodeLabels

    var keyword: String {
        switch self {
        case .metrics: "metrics-dir"
        case .nodeLabels: "node-labels-dir"
        }
    }
}

extension AliasSource {
    func problem(_ message: String) -> ConfigError.Problem {
        ConfigError.Problem(file: file, line: line, message: message)
    }
}

/// One parsed config line.
enum Directive {
    case flavour(Flavour)
    case variant(flavour: String, pattern: AliasPattern, module: ModuleName)
    case deny(flavour: String, pattern: AliasPattern, module: ModuleName)
    case request(flavour: String, selector: DeviceSelector, options: RequestOptions)
    case protect(ProtectSelector)
    case publish(PublishedFile, PublishDirectory)

    init(words: [Substring], source: AliasSource) throws(ConfigError.Problem) {
        let keyword = String(words[0])
        let arguments = words.dropFirst().map(String.init)
        func expect(_ count: Int, _ usage: String) throws(ConfigError.Problem) {
            guard arguments.count == count else {
                throw source.problem("'\(keyword)' takes \(count) argument\(count == 1 ? "" : "s"): \(usage) (got \(arguments.count))")
            }
        }
        func flavourName(_ text: String) throws(ConfigError.Problem) -> String {
            guard text != Flavour.revertName else {
                throw source.problem("'\(Flavour.revertName)' is not a flavour: it means the kernel's default driver")
            }
            guard !text.hasPrefix("-") else {
                throw source.problem("'\(text)' is not a flavour: names starting with '-' are reserved (written to driver_flavour, '-NAME' clears the attribute if it holds NAME)")
            }
            guard Flavour.isValidName(text) else {
                throw source.problem("'\(text)' is not a flavour name: use 1 to 32 of a-z, 0-9, '_', '-'")
            }
            return text
        }
        func module(_ text: String) throws(ConfigError.Problem) -> ModuleName {
            guard let name = ModuleName(text) else {
                throw source.problem("'\(text)' is not a module name: use letters, digits, '_' and '-'")
            }
            return name
        }
        func pattern(_ text: String) throws(ConfigError.Problem) -> AliasPattern {
            guard let pattern = AliasPattern(text) else {
                throw source.problem("'\(text)' is not an alias pattern: expected PREFIX:GLOB, e.g. vfio_pci:v000015B3d0000101E*")
            }
            return pattern
        }
        switch keyword {
        case "flavour":
            try expect(3, "flavour NAME PREFIX UNIVERSAL_MODULE")
            let name = try flavourName(arguments[0])
            let prefix: String? = arguments[1] == "-" ? nil : arguments[1]
            if let prefix, !prefix.utf8.allSatisfy(AliasPattern.isPrefixByte) {
                throw source.problem("'\(prefix)' is not an alias prefix: use letters, digits, '_' and '-', or '-' for none")
            }
            self = .flavour(Flavour(
                name: name, aliasPrefix: prefix, universalModule: try module(arguments[2]), source: source))
        case "variant":
            try expect(3, "variant FLAVOUR ALIAS_PATTERN MODULE")
            self = .variant(
                flavour: try flavourName(arguments[0]), pattern: try pattern(arguments[1]), module: try module(arguments[2]))
        case "deny":
            try expect(3, "deny FLAVOUR ALIAS_PATTERN MODULE")
            self = .deny(
                flavour: try flavourName(arguments[0]), pattern: try pattern(arguments[1]), module: try module(arguments[2]))
        case "request":
            guard arguments.count >= 2 else {
                throw source.problem("'request' takes 2 arguments and options: request FLAVOUR SELECTOR [force] [group] (got \(arguments.count))")
            }
            var options = RequestOptions()
            for word in arguments.dropFirst(2) {
                switch word {
                case "force" where !options.force: options.force = true
                case "group" where !options.group: options.group = true
                case "force", "group": throw source.problem("request option '\(word)' is given twice")
                default:
                    throw source.problem(
                        "unknown request option '\(word)' (expected \(RequestOptions.keywords.joined(separator: " or ")))")
                }
            }
            guard let selector = DeviceSelector(arguments[1]) else {
                throw source.problem(
                    "'\(arguments[1])' is not a selector: use a PCI address glob (0000:3b:00.*) or a pci: modalias pattern (pci:v000015B3d0000101E*)")
            }
            self = .request(flavour: try flavourName(arguments[0]), selector: selector, options: options)
        case "protect":
            try expect(1, "protect SELECTOR")
            guard let selector = ProtectSelector(arguments[0]) else {
                throw source.problem(
                    "'\(arguments[0])' is not a protect selector: use a PCI address glob (0000:3b:00.*), a pci: modalias pattern, a network interface name (eno1) or a MAC address (52:54:00:12:34:56)")
            }
            self = .protect(selector)
        case "metrics-dir", "node-labels-dir":
            try expect(1, "\(keyword) DIR (an absolute path, or '-' for none)")
            guard let directory = PublishDirectory(arguments[0]) else {
                throw source.problem("'\(arguments[0])' is not a directory for \(keyword): use an absolute path without '.' or '..', or '-' for none")
            }
            self = .publish(keyword == "metrics-dir" ? .metrics : .nodeLabels, directory)
        default:
            throw source.problem(
                "unknown directive '\(keyword)' (expected flavour, variant, deny, request, protect, metrics-dir or node-labels-dir)")
        }
    }
}
