import FlavourCore
import FlavourEngine
import FlavourPlatform
import Logging

/// What flavour-bench measures: parse time, per-lookup cost of the match
/// table against libkmod's `kmod_module_new_from_lookup` on the same keys in the `pci:`
/// and `vfio_pci:` forms, a naive text scan for reference, agreement of the answers,
/// and peak memory.
struct Bench {
    let options: BenchOptions
    let input: BenchInput

    static let forms = ["pci", "vfio_pci"]

    func run() throws -> BenchResult {
        var result = BenchResult(input: input, iterations: options.iterations)
        let aliasBytes = try FileSystem.read(input.aliasFile)
        result.census(aliasBytes)

        // Parse: what the daemon does at start and on reload.
        let configDirectory = try HostFiles.makeTemporaryDirectory()  // empty: no admin rules
        defer { HostFiles.removeTree(configDirectory) }
        let loader = MatchTableLoader(configDirectory: configDirectory, modulesDirectory: input.modulesDirectory)
        var loaded = try loader.load(extraPrefixes: ["pci"])
        result.loadNanos = Stopwatch.median(iterations: options.iterations) {
            loaded = try! loader.load(extraPrefixes: ["pci"])
        }
        let table = loaded.table
        result.loadWarnings = loaded.warnings
        result.tableEntries = table.count
        result.builtinEntries = table.entries.count { $0.source.kind == .builtinAlias }
        let prefixes = loaded.config.aliasPrefixes.union(["pci"])
        result.parseNanos = Stopwatch.median(iterations: options.iterations) {
            let parsed = ModulesAliasParser.parse(aliasBytes, file: input.aliasFile, prefixes: prefixes)
            consume(MatchTable(entries: parsed.entries).count)
        }
        result.rssAfterParseKiB = Stopwatch.maxResidentKiB()

        // Keys: one concrete modalias per `pci:` line of the file.
        let pciEntries = ModulesAliasParser.parse(aliasBytes, file: input.aliasFile, prefixes: ["pci"]).entries
        var keys: [BenchKey] = []
        for (index, entry) in pciEntries.enumerated() {
            if let key = BenchKey(pattern: entry.pattern, seed: index) { keys.append(key) } else {
                result.unkeyable.append(entry.pattern.text)
            }
        }
        result.keys = keys.count
        // Each key must match the pattern it was built from, by fnmatch and by the table.
        for key in keys {
            let text = key.key("pci")
            if !key.pattern.matches(key: text)
                || !table.matches(prefix: "pci", modalias: key.modalias).contains(where: { $0.pattern == key.pattern }) {
                result.selfMisses.append(text + " from " + key.pattern.text)
            }
        }

        // libkmod over the same dir, without the system's modprobe.d (its aliases would
        // answer first); the text file as config when there is no binary index.
        let kmodLog = Logger(label: "flavour-bench.kmod") { StreamLogHandler.standardError(label: $0) }
        let configPaths = input.hasBinaryIndex ? [] : [input.aliasFile]
        var kmod: KmodContext? = nil
        result.kmodNewNanos = Stopwatch.median(iterations: options.iterations) {
            kmod = try! KmodContext(modulesDirectory: input.modulesDirectory, configPaths: configPaths, logger: kmodLog)
        }
        guard let kmod else { fatalError("unreachable: iterations > 0") }
        result.kmodResourcesError = kmod.resourcesError.map { "\($0)" }

        for form in Self.forms {
            let texts = keys.map { $0.key(form) }
            let sysfsTexts = keys.map { $0.key("pci") }

            // Correctness first (also warms both sides' caches): equal module sets.
            var matched = 0
            for (key, text) in zip(keys, texts) {
                let ours = table.matches(prefix: form, modalias: key.modalias)
                let theirs = kmod.lookup(alias: text)
                matched += ours.count
                let ourSet = Set(ours.map(\.module.rawValue))
                let theirSet = Set(theirs.map { $0.replacing("-", with: "_") })
                if ourSet != theirSet {
                    let oursOnly = ours.filter { !theirSet.contains($0.module.rawValue) }
                    // kmod_module_new_from_lookup returns the first source with a match
                    // (config, modules.dep, symbols, commands, modules.alias.bin, then
                    // modules.builtin.alias.bin): built-in aliases are never returned for a
                    // key that a module alias also matches. Still a disagreement; named.
                    let firstSourceWins = !theirSet.isEmpty && theirSet.isSubset(of: ourSet)
                        && oursOnly.allSatisfy { $0.source.kind == .builtinAlias }
                    result.disagreements.append(Disagreement(
                        form: form, key: text, ours: ourSet.sorted(), libkmod: theirSet.sorted(),
                        oursOnly: oursOnly.map { "\($0.module) \($0.pattern) (\($0.source))" },
                        explanation: firstSourceWins
                            ? "libkmod read modules.builtin.alias.bin only if modules.alias.bin had no match" : nil))
                }
            }
            result.checked[form] = keys.count
            result.matchesPerKey[form] = Double(matched) / Double(max(keys.count, 1))

            // Timed passes over all keys.
            let modaliases = keys.map(\.modalias)
            let ourNanos = Stopwatch.median(iterations: options.iterations) {
                var total = 0
                for modalias in modaliases { total &+= table.matches(prefix: form, modalias: modalias).count }
                consume(total)
            }
            // The daemon's real path: parse the sysfs modalias text, then look up.
            let parsedNanos = Stopwatch.median(iterations: options.iterations) {
                var total = 0
                for text in sysfsTexts {
                    guard let modalias = try? Modalias(parsing: text) else { continue }
                    total &+= table.matches(prefix: form, modalias: modalias).count
                }
                consume(total)
            }
            let kmodNanos = Stopwatch.median(iterations: options.iterations) {
                var total = 0
                for text in texts { total &+= kmod.lookup(alias: text).count }
                consume(total)
            }
            let count = Double(max(keys.count, 1))
            result.figures.append(LookupFigure(form: form, engine: .table, keys: keys.count, nanosPerLookup: Double(ourNanos) / count))
            result.figures.append(LookupFigure(form: form, engine: .tableWithParse, keys: keys.count, nanosPerLookup: Double(parsedNanos) / count))
            result.figures.append(LookupFigure(form: form, engine: .libkmod, keys: keys.count, nanosPerLookup: Double(kmodNanos) / count))

            // Naive scans on a sample, and whether they agree with the table's modules.alias part.
            let step = max(1, keys.count / options.naiveSample)
            let sample = Array(stride(from: 0, to: keys.count, by: step).prefix(options.naiveSample))
            for matcher in [NaiveScan.Matcher.fnmatch, .glob] {
                var answers: [[String]] = []
                let naiveNanos = Stopwatch.median(iterations: min(options.iterations, 3)) {
                    answers = sample.map { try! NaiveScan.lookup(key: texts[$0], aliasFile: input.aliasFile, matcher: matcher) }
                }
                for (index, answer) in zip(sample, answers) {
                    let ours = table.matches(prefix: form, modalias: keys[index].modalias)
                        .filter { $0.source.kind == .modulesAlias }.map(\.module.rawValue)
                    if Set(ours) != Set(answer.map { $0.replacing("-", with: "_") }) {
                        result.naiveDisagreements.append(Disagreement(
                            form: form, key: texts[index] + " (\(matcher.rawValue))", ours: ours.sorted(),
                            libkmod: answer.sorted(), oursOnly: [], explanation: nil))
                    }
                }
                result.naiveChecked += sample.count
                result.figures.append(LookupFigure(
                    form: form, engine: matcher == .glob ? .naiveGlob : .naiveFnmatch, keys: sample.count,
                    nanosPerLookup: Double(naiveNanos) / Double(max(sample.count, 1))))
            }
        }
        result.rssAfterLookupsKiB = Stopwatch.maxResidentKiB()
        return result
    }
}
