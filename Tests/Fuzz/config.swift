// FlavourConfig.parse(files:) on one to three files (input: FILE NUL FILE NUL FILE).
// It returns or throws ConfigError, never traps. A config that parses is consistent:
// every directive line became exactly one entry, and every rule names a defined
// flavour under that flavour's alias prefix, every protect selector is well formed,
// and every publish directory is '-' or an absolute path with no empty, '.' or '..' part.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let files = input.parts(3).enumerated().map { (name: "\($0.offset)0-fuzz.conf", text: input.text($0.element)) }
    let config: FlavourConfig
    do {
        config = try FlavourConfig.parse(files: files)
    } catch {
        fuzzCheck(!error.problems.isEmpty, "ConfigError without problems")
        for problem in error.problems {
            fuzzCheck(files.contains { $0.name == problem.file }, "problem names unknown file \(problem.file)")
            fuzzCheck(problem.line >= 1, "problem on line \(problem.line)")
        }
        return 0
    }
    // Count directive lines independently of the parser: lines end at LF (a CR before
    // it is whitespace), words split at space, tab and CR, a word starting '#' ends the line.
    var directives = 0
    for file in files {
        for line in file.text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let words = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if let first = words.first, first.first != UInt8(ascii: "#") { directives += 1 }
        }
    }
    let publishLines = [config.metricsDirectory, config.nodeLabelsDirectory].compactMap { $0 }.count
    let entries = (config.flavours.count - 1) + config.variants.count + config.denies.count + config.requests.count
        + config.protections.count + publishLines
    fuzzCheck(entries == directives, "\(directives) directive lines became \(entries) entries in \(files.map(\.text))")
    fuzzCheck(config.flavour(named: Flavour.vfio.name) != nil, "the built-in vfio flavour is gone")
    let keyPrefixes = Set(config.flavours.values.map(\.keyPrefix))
    for (name, flavour) in config.flavours {
        fuzzCheck(name == flavour.name && Flavour.isValidName(name) && name != Flavour.revertName, "bad flavour name \(name)")
    }
    for variant in config.variants {
        fuzzCheck(keyPrefixes.contains(variant.pattern.prefix), "variant \(variant.pattern) under no flavour's prefix")
    }
    for deny in config.denies {
        fuzzCheck(config.flavour(named: deny.flavourName)?.keyPrefix == deny.pattern.prefix,
                  "deny \(deny.pattern) not under flavour \(deny.flavourName)'s prefix")
    }
    for request in config.requests {
        fuzzCheck(config.flavour(named: request.flavourName) != nil, "request for unknown flavour \(request.flavourName)")
    }
    for rule in config.protections {
        switch rule.selector {
        case .interface(let name):
            fuzzCheck((1...15).contains(name.utf8.count) && !name.contains("/") && !name.contains(":"), "bad interface name \(name)")
        case .mac(let mac):
            fuzzCheck(mac.utf8.count == 17 && mac == mac.lowercased(), "bad MAC \(mac)")
        case .device:
            break
        }
    }
    for directory in [config.metricsDirectory, config.nodeLabelsDirectory].compactMap({ $0 }) {
        guard let path = directory.path else { continue }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        fuzzCheck(path.hasPrefix("/") && (path == "/" || parts.dropFirst().allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }),
                  "bad publish directory \(path)")
    }
    return 0
}
