import CFlavourShim
import Glibc

/// libkmod itself, opened with dlopen(3) the first time a context is made rather than
/// linked into the binary. Linked, libkmod brings libcrypto with it, and the two stay
/// mapped (about 1.5 MiB resident) in a daemon that on most hosts never loads a module
/// after boot: the modules it binds to are loaded by then, and the match table is read
/// from modules.alias without libkmod. systemd opens libkmod the same way, for the same
/// reason. The Debian package depends on libkmod2 by name, since the shared-library
/// scan no longer sees it.
public struct LibKmod: @unchecked Sendable {
    /// The entry points, each named and typed as libkmod's function.
    let api: UnsafePointer<flavour_kmod>

    /// The shared object asked for: libkmod's soname.
    public static let soname = "libkmod.so.2"

    /// libkmod for this process, opened on first use and kept open.
    public static let shared: Result<LibKmod, KmodError> = open(soname)

    /// Opens `library` and resolves every function flavourd calls. Fails with the
    /// dynamic loader's words when the library is missing or lacks one of them.
    public static func open(_ library: String) -> Result<LibKmod, KmodError> {
        var error = [CChar](repeating: 0, count: 512)
        let opened = error.withUnsafeMutableBufferPointer { buffer in
            flavour_kmod_open(library, buffer.baseAddress!, buffer.count)
        }
        guard let api = opened else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(KmodError(module: library, operation: "dlopen", errno: ELIBACC, detail: reason))
        }
        return .success(LibKmod(api: api))
    }
}
