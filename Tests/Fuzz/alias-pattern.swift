// AliasPattern and Glob on a pattern and a text (input: PATTERN NUL TEXT).
// - Never hangs: `*`-heavy patterns must stay linear per star (libFuzzer -timeout).
// - The field-by-field match of fixed-shape PCI patterns (PCIFieldPattern) gives the
//   same answer as the glob over the full key `prefix:body`, for a modalias built from
//   the input so that it often agrees with the pattern's exact fields.
// - Glob agrees with glibc fnmatch(3), flags 0, which is what kmod uses
//   (libkmod/libkmod-index.c, index_searchwild_all), on short inputs.
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = FuzzInput(start, count)
    let parts = input.parts(2)
    let patternBytes = Array(parts[0])
    let textBytes = parts.count > 1 ? Array(parts[1]) : []

    let wildcards = Glob.wildcardCount(patternBytes)
    fuzzCheck(wildcards >= 0 && wildcards <= patternBytes.count, "wildcardCount \(wildcards) for \(patternBytes.count) bytes")
    let globAnswer = Glob.matches(pattern: patternBytes, text: textBytes)
    fuzzCheck(Glob.matches(pattern: [UInt8(ascii: "*")] + patternBytes, text: textBytes) || !globAnswer,
              "'*' + pattern matches less than the pattern")
    compareWithFnmatch(patternBytes, textBytes, globAnswer)

    guard let pattern = AliasPattern(input.text(parts[0])) else { return 0 }
    fuzzCheck(pattern.wildcards == Glob.wildcardCount(Array(pattern.text.utf8)), "wildcards field disagrees")
    let modalias = derivedModalias(pattern.fields, textBytes)
    let key = modalias.key(prefix: pattern.prefix)
    let byFields = pattern.matches(modalias)
    let byGlob = Glob.matches(pattern: Array(pattern.text.utf8), text: Array(key.utf8))
    fuzzCheck(byFields == byGlob,
              "\(pattern.text) on \(key): matches(modalias) says \(byFields), Glob says \(byGlob) (fields: \(pattern.fields != nil))")
    fuzzCheck(pattern.matches(key: key) == byGlob, "matches(key:) disagrees with Glob")
    return 0
}

/// A modalias from the text's bytes: each field copies the pattern's exact value when
/// the steering byte is even (so matches are found), otherwise takes the input's bytes.
private func derivedModalias(_ fields: PCIFieldPattern?, _ bytes: [UInt8]) -> Modalias {
    var cursor = 0
    func next() -> UInt8 {
        defer { cursor += 1 }
        return cursor < bytes.count ? bytes[cursor] : 0
    }
    func field(_ exact: UInt32?) -> UInt32 {
        let steer = next()
        let own = UInt32(next()) << 24 | UInt32(next()) << 16 | UInt32(next()) << 8 | UInt32(next())
        if let exact, steer & 1 == 0 { return exact }
        return steer & 2 == 0 ? own & 0xFFFF : own
    }
    let v = field(fields?.vendor), d = field(fields?.device)
    let sv = field(fields?.subsystemVendor), sd = field(fields?.subsystemDevice)
    let bc = field(fields?.baseClass), sc = field(fields?.subClass), i = field(fields?.interface)
    return Modalias(vendor: v, device: d, subsystemVendor: sv, subsystemDevice: sd,
                    baseClass: UInt8(truncatingIfNeeded: bc), subClass: UInt8(truncatingIfNeeded: sc),
                    interface: UInt8(truncatingIfNeeded: i))
}

/// glibc's fnmatch recurses per `*`, so it is only asked about short inputs with few
/// stars; POSIX classes (`[[:alpha:]]`) are a glibc feature Glob does not claim.
private func compareWithFnmatch(_ pattern: [UInt8], _ text: [UInt8], _ globAnswer: Bool) {
    guard pattern.count <= 48, text.count <= 96,
          pattern.count(where: { $0 == UInt8(ascii: "*") }) <= 4,
          !pattern.contains(where: { $0 >= 0x80 || $0 == 0 }), !text.contains(where: { $0 >= 0x80 || $0 == 0 })
    else { return }
    for i in pattern.indices.dropLast() where pattern[i] == UInt8(ascii: "[") {
        if [UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: ".")].contains(pattern[i + 1]) { return }
    }
    let fnmatchAnswer = (pattern + [0]).withUnsafeBufferPointer { p in
        (text + [0]).withUnsafeBufferPointer { t in
            fnmatch(UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self),
                    UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), 0) == 0
        }
    }
    fuzzCheck(fnmatchAnswer == globAnswer,
              "Glob says \(globAnswer), fnmatch says \(fnmatchAnswer) for pattern \(String(decoding: pattern, as: UTF8.self).debugDescription) text \(String(decoding: text, as: UTF8.self).debugDescription)")
}
