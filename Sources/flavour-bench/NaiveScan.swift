#if canImport(Glibc)
import Glibc
#endif
import FlavourCore
import FlavourEngine

/// What libvirt (`virPCIDeviceFindBestVFIOVariant`) and similar tools do for every
/// device: read the whole text `modules.alias` and fnmatch the key against every alias
/// line (KERNEL-FACTS.md). The reference the match table is meant to beat by far.
enum NaiveScan {
    enum Matcher: String {
        /// FlavourCore's `Glob`, our fnmatch-compatible matcher.
        case glob = "Glob"
        /// glibc's fnmatch(3), what libvirt and kmod call.
        case fnmatch = "fnmatch"
    }

    /// Modules of every `alias` line whose pattern matches `key`, in file order.
    static func lookup(key: String, aliasFile: String, matcher: Matcher) throws(FileSystem.Error) -> [String] {
        let bytes = try FileSystem.read(aliasFile)
        let keyBytes = Array(key.utf8)
        let cKey = Array(key.utf8CString)  // converted once, not per line
        var cPattern = [CChar](repeating: 0, count: 512)
        var found: [String] = []
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            defer { lineStart = lineEnd + 1 }
            // "alias PATTERN MODULE"; anything else (comments) is not an alias line.
            guard lineEnd - lineStart > 6, bytes[lineStart..<lineStart + 6].elementsEqual("alias ".utf8) else { continue }
            let patternStart = lineStart + 6
            var patternEnd = patternStart
            while patternEnd < lineEnd, bytes[patternEnd] != UInt8(ascii: " ") { patternEnd += 1 }
            guard patternEnd < lineEnd else { continue }
            let matched: Bool
            switch matcher {
            case .glob:
                matched = Glob.matches(pattern: bytes[patternStart..<patternEnd], text: keyBytes)
            case .fnmatch:
                let length = patternEnd - patternStart
                if length + 1 > cPattern.count { cPattern = [CChar](repeating: 0, count: length + 1) }
                for offset in 0..<length { cPattern[offset] = CChar(bitPattern: bytes[patternStart + offset]) }
                cPattern[length] = 0
                matched = Glibc.fnmatch(cPattern, cKey, 0) == 0
            }
            if matched { found.append(String(decoding: bytes[(patternEnd + 1)..<lineEnd], as: UTF8.self)) }
        }
        return found
    }
}
