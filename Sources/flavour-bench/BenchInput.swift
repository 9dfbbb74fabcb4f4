/// The modules dir the bench reads, and where it came from.
struct BenchInput {
    enum Origin: String {
        case given = "given with --modules-dir"
        case fetched = "Debian kernel unpacked by scripts/vm/fetch-kernel"
        case generated = "generated"
    }

    let modulesDirectory: String
    let origin: Origin
    /// Whether libkmod reads depmod's binary indexes (else the text file as config).
    let hasBinaryIndex: Bool
    let generated: GeneratedTree?

    var aliasFile: String { modulesDirectory + "/modules.alias" }

    /// How libkmod is given the aliases, for the report.
    var libkmodSource: String {
        hasBinaryIndex
            ? "modules.alias.bin + modules.builtin.alias.bin (depmod's indexes)"
            : "modules.alias passed as a config file: kmod_new(dir, [modules.alias])"
    }

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func resolve(_ given: String?) throws -> BenchInput {
        if let given {
            guard HostFiles.isFile(given + "/modules.alias") else {
                throw Missing(description: "\(given)/modules.alias: no such file (not a modules dir?)")
            }
            return BenchInput(modulesDirectory: given, origin: .given,
                              hasBinaryIndex: HostFiles.isFile(given + "/modules.alias.bin"), generated: nil)
        }
        if let fetched = fetchedKernel() {
            return BenchInput(modulesDirectory: fetched, origin: .fetched, hasBinaryIndex: true, generated: nil)
        }
        let tree = try GeneratedTree.make()
        return BenchInput(modulesDirectory: tree.modulesDirectory, origin: .generated,
                          hasBinaryIndex: tree.mode == .depmod, generated: tree)
    }

    /// `.build/vm/kernel/<abi>/lib/modules/<abi>` under the working directory, when
    /// fetch-kernel finished unpacking it (it leaves `.complete`).
    static func fetchedKernel() -> String? {
        let cache = ".build/vm/kernel"
        for abi in HostFiles.list(cache).reversed() where HostFiles.isFile("\(cache)/\(abi)/.complete") {
            let modules = "\(cache)/\(abi)/lib/modules/\(abi)"
            if HostFiles.isFile(modules + "/modules.alias"), HostFiles.isFile(modules + "/modules.alias.bin") {
                return modules
            }
        }
        return nil
    }
}
