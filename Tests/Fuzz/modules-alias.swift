// depmod's outputs on raw bytes: the text modules.alias parser and the binary index
// reader (modules.builtin.alias.bin). Both take whatever the modules directory holds:
// the text parser skips bad lines, the index reader throws on cycles and truncation;
// neither traps nor hangs.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let bytes = input.bytes
    let lines = bytes.isEmpty ? 0 : bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        - (bytes.last == UInt8(ascii: "\n") ? 1 : 0)

    let all = ModulesAliasParser.parse(bytes, file: "modules.alias")
    fuzzCheck(all.entries.count + all.warnings.count <= lines, "more results than lines")
    for warning in all.warnings { fuzzCheck((1...lines).contains(warning.line), "warning on line \(warning.line) of \(lines)") }
    let prefixes: Set<String> = ["pci", "vfio_pci"]
    let some = ModulesAliasParser.parse(bytes, file: "modules.alias", prefixes: prefixes)
    fuzzCheck(some.entries.allSatisfy { prefixes.contains($0.pattern.prefix) }, "kept an unwanted prefix")
    fuzzCheck(some.entries == all.entries.filter { prefixes.contains($0.pattern.prefix) },
              "filtering by prefix changed the kept entries")

    if let records = try? KmodIndex.records(bytes, file: "modules.builtin.alias.bin") {
        // Every record costs at least a priority and a NUL in the file.
        fuzzCheck(records.count <= bytes.count, "\(records.count) records from \(bytes.count) bytes")
        _ = try? KmodIndex.aliasEntries(bytes, file: "modules.builtin.alias.bin", prefixes: prefixes)
    }
    return 0
}
