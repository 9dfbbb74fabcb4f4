// Modalias(parsing:) on arbitrary text: what parses prints as the kernel's
// pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X and parses back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let text = input.text(input.bytes[...])
    guard let modalias = try? Modalias(parsing: text) else { return 0 }
    let printed = modalias.description
    guard let again = try? Modalias(parsing: printed) else {
        fatalError("fuzz property violated: \(printed.debugDescription) (from \(text.debugDescription)) does not parse")
    }
    fuzzCheck(again == modalias, "\(printed) parses to \(again), not \(modalias)")
    fuzzCheck(again.description == printed, "\(printed) prints as \(again.description)")
    fuzzCheck(printed.utf8.count == 53, "\(printed) is not 53 bytes long")
    // Hex digits may come in either case; everything else must be the kernel's text.
    let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
    fuzzCheck(printed.lowercased() == trimmed.lowercased(), "\(text.debugDescription) prints as \(printed)")
    return 0
}
