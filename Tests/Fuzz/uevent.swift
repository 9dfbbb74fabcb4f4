// UeventRequest on an action, a device name and KEY=VALUE lines
// (input: ACTION NUL SYSNAME NUL PROPERTIES). A flavour value that reaches the daemon
// is empty or a valid name; an .invalid message, which is logged, stays short however
// long the input is.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let parts = input.parts(3).map(input.text)
    let action = parts[0]
    let sysName = parts.count > 1 ? parts[1] : ""
    var properties: [String: String] = [:]
    if parts.count > 2 {
        for line in parts[2].split(separator: "\n") {
            let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            properties[String(pair[0])] = pair.count > 1 ? String(pair[1]) : ""
        }
    }
    let request = UeventRequest(action: action, sysName: sysName, properties: properties)
    switch request {
    case let .flavour(address, value, _):
        fuzzCheck(value.isEmpty || Flavour.isValidName(value), "flavour value \(value.debugDescription) passed")
        fuzzCheck((try? PCIAddress(parsing: sysName)) == address, "address \(address) is not \(sysName.debugDescription)")
    case let .added(address, _), let .removed(address), let .changed(address):
        fuzzCheck((try? PCIAddress(parsing: sysName)) == address, "address \(address) is not \(sysName.debugDescription)")
    case .invalid(let message):
        // Measured in Unicode scalars: a Character can hold any number of them.
        fuzzCheck(message.unicodeScalars.count <= 200,
                  "an .invalid message of \(message.unicodeScalars.count) scalars, \(message.utf8.count) bytes")
    case .ignored:
        break
    }
    if !["add", "remove", "change"].contains(action) { fuzzCheck(request == .ignored, "\(action) was not ignored") }
    return 0
}
