#if canImport(Glibc)
import Glibc
#endif

/// The human table and the `--json` object.
enum BenchReport {
    /// Reference figures from the issue, measured for libkmod and a naive scan on this machine.
    static let reference: [String: [LookupFigure.Engine: Double]] = [
        "pci": [.libkmod: 3.8, .naiveFnmatch: 690],
        "vfio_pci": [.libkmod: 0.54, .naiveFnmatch: 690],
    ]

    static func table(_ r: BenchResult) -> String {
        var out: [String] = []
        func line(_ s: String = "") { out.append(s) }
        line("flavour-bench: driver-flavour match table vs libkmod")
        line()
        line("input       \(r.input.modulesDirectory)")
        line("            \(r.input.origin.rawValue)" + (r.input.generated.map { ", \($0.mode.rawValue)" + ($0.note.map { " (\($0))" } ?? "") } ?? ""))
        line("            modules.alias: \(group(r.aliasLines)) lines, \(group(r.pciLines)) alias pci:, \(r.vfioLines) alias vfio_pci:")
        line("            match table: \(group(r.tableEntries)) entries (pci + vfio_pci), \(r.builtinEntries) from modules.builtin.alias.bin")
        line("            libkmod reads: \(r.input.libkmodSource)")
        if let error = r.kmodResourcesError { line("            libkmod: \(error)") }
        if !r.loadWarnings.isEmpty { line("            loader warnings: \(r.loadWarnings.count), first: \(r.loadWarnings[0])") }
        line()
        line("parse (median of \(r.iterations))")
        line("  MatchTableLoader.load (read + parse + index)   \(ms(r.loadNanos)) ms   target < 20 ms: \(r.loadNanos < BenchResult.parseTargetNanos ? "met" : "MISSED")")
        line("  parse + index, file already in memory         \(ms(r.parseNanos)) ms")
        line("  libkmod kmod_new + kmod_load_resources        \(ms(r.kmodNewNanos)) ms")
        line()
        line("lookups: \(group(r.keys)) keys per form, one per alias pci: line; median of \(r.iterations) passes")
        line("  " + pad("form", 10) + pad("engine", 34) + lpad("µs/lookup", 12) + lpad("lookups/s", 13) + lpad("issue ref µs", 14) + lpad("vs libkmod", 16))
        for form in Bench.forms {
            let kmod = r.figure(form, .libkmod)
            for figure in r.figures where figure.form == form {
                let ref = reference[form]?[figure.engine].map { fixed($0, 2) } ?? ""
                let ratio = kmod.map { kmod in figure.engine == .libkmod ? "1.00×" : ratioText(kmod.nanosPerLookup / figure.nanosPerLookup) } ?? ""
                let engine = figure.keys == r.keys ? figure.engine.rawValue : figure.engine.rawValue + " (\(figure.keys) keys)"
                line("  " + pad(form + ":", 10) + pad(engine, 34) + lpad(fixed(figure.microsPerLookup, 3), 12)
                    + lpad(group(Int(figure.lookupsPerSecond.rounded())), 13) + lpad(ref, 14) + lpad(ratio, 16))
            }
            line("  " + pad("", 10) + "modules per key: \(fixed(r.matchesPerKey[form] ?? 0, 2))")
        }
        line()
        line("correctness")
        for form in Bench.forms {
            let count = r.disagreements.count { $0.form == form }
            let explained = r.disagreements.count { $0.form == form && $0.explanation != nil }
            line("  \(pad(form + ":", 10))\(count) disagreements with libkmod of \(group(r.checked[form] ?? 0)) keys (module sets, - → _)"
                + (explained > 0 ? ", \(explained) of them built-in aliases libkmod did not consult" : ""))
        }
        line("  naive scans (fnmatch, Glob) vs table's modules.alias entries: \(r.naiveDisagreements.count) disagreements of \(r.naiveChecked) keys")
        line("  keys not matching their own pattern: \(r.selfMisses.count); patterns not of file2alias's shape (no key): \(r.unkeyable.count)")
        for d in r.disagreements.prefix(5) {
            line("  ! \(d.key)")
            line("      ours:    \(d.ours.joined(separator: " "))")
            line("      libkmod: \(d.libkmod.joined(separator: " "))")
            for extra in d.oursOnly { line("      ours only: \(extra)") }
            if let why = d.explanation { line("      why:     \(why)") }
        }
        for d in r.naiveDisagreements.prefix(3) {
            line("  ! naive \(d.key): table \(d.ours.joined(separator: " ")) / scan \(d.libkmod.joined(separator: " "))")
        }
        for miss in r.selfMisses.prefix(3) { line("  ! self-miss \(miss)") }
        line()
        line("memory (max RSS, getrusage)")
        line("  after parse    \(mib(r.rssAfterParseKiB)) MiB")
        line("  after lookups  \(mib(r.rssAfterLookupsKiB)) MiB")
        line()
        line("targets")
        line("  parse < 20 ms:                       \(r.loadNanos < BenchResult.parseTargetNanos ? "met" : "MISSED")")
        for form in Bench.forms {
            line("  \(pad(form + ":", 10)) faster than libkmod:     \(r.fasterThanLibkmod(form) ? "met" : "MISSED")")
        }
        return out.joined(separator: "\n")
    }

    static func json(_ r: BenchResult) -> String {
        func disagreement(_ d: Disagreement) -> JSONValue {
            .object([("form", .string(d.form)), ("key", .string(d.key)),
                     ("ours", .array(d.ours.map { .string($0) })), ("libkmod", .array(d.libkmod.map { .string($0) })),
                     ("oursOnly", .array(d.oursOnly.map { .string($0) })),
                     ("explanation", d.explanation.map { .string($0) } ?? .null)])
        }
        let value = JSONValue.object([
            ("input", .object([
                ("modulesDirectory", .string(r.input.modulesDirectory)),
                ("origin", .string(r.input.origin.rawValue)),
                ("generatedMode", r.input.generated.map { .string($0.mode.rawValue) } ?? .null),
                ("libkmodSource", .string(r.input.libkmodSource)),
                ("aliasLines", .int(r.aliasLines)), ("pciLines", .int(r.pciLines)), ("vfioPciLines", .int(r.vfioLines)),
                ("tableEntries", .int(r.tableEntries)), ("builtinEntries", .int(r.builtinEntries)),
                ("loaderWarnings", .int(r.loadWarnings.count)),
            ])),
            ("iterations", .int(r.iterations)),
            ("parse", .object([
                ("loadMs", .double(Double(r.loadNanos) / 1e6)),
                ("inMemoryMs", .double(Double(r.parseNanos) / 1e6)),
                ("libkmodNewMs", .double(Double(r.kmodNewNanos) / 1e6)),
                ("targetMs", .double(20)), ("met", .bool(r.loadNanos < BenchResult.parseTargetNanos)),
            ])),
            ("keys", .int(r.keys)),
            ("lookups", .array(r.figures.map { f in
                .object([("form", .string(f.form)), ("engine", .string(f.engine.rawValue)), ("keys", .int(f.keys)),
                         ("usPerLookup", .double(f.microsPerLookup)), ("lookupsPerSecond", .double(f.lookupsPerSecond))])
            })),
            ("fasterThanLibkmod", .object(Bench.forms.map { ($0, .bool(r.fasterThanLibkmod($0))) })),
            ("correctness", .object([
                ("checked", .object(Bench.forms.map { ($0, .int(r.checked[$0] ?? 0)) })),
                ("disagreements", .int(r.disagreements.count)),
                ("firstDisagreements", .array(r.disagreements.prefix(20).map(disagreement))),
                ("naiveChecked", .int(r.naiveChecked)),
                ("naiveDisagreements", .int(r.naiveDisagreements.count)),
                ("selfMisses", .int(r.selfMisses.count)),
                ("unkeyablePatterns", .int(r.unkeyable.count)),
            ])),
            ("maxRssKiB", .object([("afterParse", .int(r.rssAfterParseKiB)), ("afterLookups", .int(r.rssAfterLookupsKiB))])),
        ])
        return value.text
    }

    static func ms(_ nanos: UInt64) -> String { fixed(Double(nanos) / 1e6, 2) }
    static func mib(_ kib: Int) -> String { fixed(Double(kib) / 1024, 1) }

    static func ratioText(_ ratio: Double) -> String {
        ratio >= 1 ? fixed(ratio, 2) + "× faster" : fixed(1 / ratio, 2) + "× slower"
    }

    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = String(scaled / Int(scale))
        var fraction = String(scaled % Int(scale))
        fraction = String(repeating: "0", count: places - fraction.count) + fraction
        return (value < 0 ? "-" : "") + (places > 0 ? whole + "." + fraction : whole)
    }

    /// 27460 → "27,460".
    static func group(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (index, char) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
            out.append(char)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
    static func lpad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
}
