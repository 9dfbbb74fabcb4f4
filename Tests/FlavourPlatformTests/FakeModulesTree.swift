import Foundation
import Glibc

/// A modules directory built the way a real one is: tiny relocatable objects with a
/// `.modinfo` section (compiled with clang), a modules.order, built-in modules listed
/// in modules.builtin(.modinfo), then the real `depmod -b` writes the binary indexes
/// libkmod reads.
struct FakeModulesTree {
    struct Module {
        var name: String
        var aliases: [String]
    }

    let root: String
    let release = "6.0.0-flavour-test"
    var modulesDirectory: String { root + "/lib/modules/" + release }

    /// `modules` in modules.order order; `builtin` are compiled into the "kernel".
    init(modules: [Module], builtin: [Module] = []) throws {
        var template = Array((NSTemporaryDirectory() + "flavour-kmod-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        root = String(cString: made)
        do { try build(modules: modules, builtin: builtin) } catch {
            remove()  // the caller never gets the tree to remove
            throw error
        }
    }

    private func build(modules: [Module], builtin: [Module]) throws {
        let directory = root + "/lib/modules/" + release
        let subdirectory = "kernel/drivers/vfio/pci"
        try FileManager.default.createDirectory(atPath: directory + "/" + subdirectory, withIntermediateDirectories: true)

        for module in modules {
            let source = root + "/\(module.name).c"
            let info = (module.aliases.map { "alias=\($0)" } + ["name=\(module.name)", "license=GPL", "vermagic=\(release) SMP mod_unload "])
                .map { $0 + "\\0" }.joined()
            try """
                static const char modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "\(info)";

                """.write(toFile: source, atomically: true, encoding: .utf8)
            try Self.run(Self.find("clang", in: ["/opt/swift/usr/bin", "/usr/bin", "/usr/local/bin"]),
                         ["-c", "-o", "\(directory)/\(subdirectory)/\(module.name).ko", source])
        }
        try modules.map { "\(subdirectory)/\($0.name).ko\n" }.joined()
            .write(toFile: directory + "/modules.order", atomically: true, encoding: .utf8)
        try builtin.map { "\(subdirectory)/\($0.name).ko\n" }.joined()
            .write(toFile: directory + "/modules.builtin", atomically: true, encoding: .utf8)
        var builtinInfo = Data()
        for module in builtin {
            for alias in module.aliases { builtinInfo.append(contentsOf: Array("\(module.name).alias=\(alias)".utf8) + [0]) }
        }
        try builtinInfo.write(to: URL(fileURLWithPath: directory + "/modules.builtin.modinfo"))
        try Self.run(Self.find("depmod", in: ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]), ["-b", root, release])
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    struct ToolError: Error, CustomStringConvertible {
        let description: String
    }

    static func find(_ tool: String, in directories: [String]) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in path + directories where FileManager.default.isExecutableFile(atPath: directory + "/" + tool) {
            return directory + "/" + tool
        }
        throw ToolError(description: "\(tool) not found (the kmod tests need clang and kmod's depmod)")
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: output, as: UTF8.self))")
        }
    }
}
