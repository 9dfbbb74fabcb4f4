/// Everything one run measured, rendered by `BenchReport`.
struct BenchResult {
    let input: BenchInput
    let iterations: Int

    var aliasLines = 0
    var pciLines = 0
    var vfioLines = 0
    var tableEntries = 0
    var builtinEntries = 0
    var loadWarnings: [String] = []

    /// MatchTableLoader.load: read + parse + index of modules.alias and the built-in index.
    var loadNanos: UInt64 = 0
    /// ModulesAliasParser.parse + MatchTable build from bytes already in memory.
    var parseNanos: UInt64 = 0
    /// kmod_new + kmod_load_resources (KmodContext.init).
    var kmodNewNanos: UInt64 = 0
    var kmodResourcesError: String?

    var keys = 0
    var unkeyable: [String] = []
    /// Keys that did not match the very pattern they were built from: a bench or table bug.
    var selfMisses: [String] = []
    var figures: [LookupFigure] = []
    var matchesPerKey: [String: Double] = [:]
    var checked: [String: Int] = [:]
    var disagreements: [Disagreement] = []
    var naiveChecked = 0
    var naiveDisagreements: [Disagreement] = []

    var rssAfterParseKiB = 0
    var rssAfterLookupsKiB = 0

    static let parseTargetNanos: UInt64 = 20_000_000

    /// Whether the table beats libkmod per lookup for a form (the target).
    func fasterThanLibkmod(_ form: String) -> Bool {
        guard let ours = figure(form, .table), let theirs = figure(form, .libkmod) else { return false }
        return ours.nanosPerLookup < theirs.nanosPerLookup
    }

    func figure(_ form: String, _ engine: LookupFigure.Engine) -> LookupFigure? {
        figures.first { $0.form == form && $0.engine == engine }
    }

    /// Errors, as opposed to missed targets: these make the exit status non-zero.
    var failed: Bool {
        !disagreements.isEmpty || !selfMisses.isEmpty || !naiveDisagreements.isEmpty || keys == 0
    }

    /// Counts the file's lines by kind (what the "real-size" means).
    mutating func census(_ bytes: [UInt8]) {
        var lineStart = 0
        let pci = Array("alias pci:".utf8), vfio = Array("alias vfio_pci:".utf8)
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            aliasLines += 1
            if line.starts(with: pci) { pciLines += 1 }
            if line.starts(with: vfio) { vfioLines += 1 }
            lineStart = lineEnd + 1
        }
    }
}

struct LookupFigure {
    enum Engine: String {
        case table = "MatchTable.matches"
        case tableWithParse = "Modalias(parsing:) + matches"
        case libkmod = "libkmod (KmodContext.lookup)"
        case naiveFnmatch = "naive scan, fnmatch"
        case naiveGlob = "naive scan, Glob"
    }

    let form: String
    let engine: Engine
    let keys: Int
    let nanosPerLookup: Double
    var microsPerLookup: Double { nanosPerLookup / 1000 }
    var lookupsPerSecond: Double { nanosPerLookup > 0 ? 1e9 / nanosPerLookup : 0 }
}

/// A key for which the two answers differ.
struct Disagreement {
    let form: String
    let key: String
    let ours: [String]
    let libkmod: [String]
    /// Our entries whose module libkmod did not return, with pattern and source.
    let oursOnly: [String]
    /// A known difference of semantics that accounts for it, if any.
    let explanation: String?
}
