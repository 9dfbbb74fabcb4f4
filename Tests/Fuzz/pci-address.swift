// PCIAddress(parsing:) on arbitrary text. The address becomes a sysfs path component,
// so an accepted text must be nothing but hex digits, ':' and '.', and the kernel
// spelling it prints must parse back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let text = input.text(input.bytes[...])
    guard let address = try? PCIAddress(parsing: text) else { return 0 }
    let allowed = Set("0123456789abcdefABCDEF:.".utf8)
    fuzzCheck(text.utf8.allSatisfy(allowed.contains), "accepted a non-address byte in \(text.debugDescription)")
    let printed = address.description
    guard let again = try? PCIAddress(parsing: printed) else {
        fatalError("fuzz property violated: \(printed.debugDescription) (from \(text.debugDescription)) does not parse")
    }
    fuzzCheck(again == address, "\(printed) parses to \(again), not \(address)")
    fuzzCheck(again.description == printed, "\(printed) prints as \(again.description)")
    fuzzCheck(printed == printed.lowercased(), "\(printed) is not the kernel's lower case")
    return 0
}
