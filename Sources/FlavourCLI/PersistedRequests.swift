import FlavourCore
import FlavourEngine

/// The config file `flavourctl set --persist` keeps: one `request FLAVOUR ADDRESS` line per
/// device. The whole config must still parse after a change, or nothing is written.
struct PersistedRequests {
    let configDirectory: String
    var path: String { configDirectory + "/" + DefaultPaths.persistedRequestsFile }

    /// Writes the request; with `checkOnly`, only checks that the config would still parse.
    func set(_ address: PCIAddress, flavour: String, checkOnly: Bool = false) throws {
        try rewrite(checkOnly: checkOnly) { lines in lines.filter { !Self.names(address, $0) } + ["request \(flavour) \(address)"] }
    }

    /// Forgets the device's request; false when the file had none.
    @discardableResult
    func remove(_ address: PCIAddress) throws -> Bool {
        guard let bytes = try? FileSystem.read(path),
              String(decoding: bytes, as: UTF8.self).split(separator: "\n").contains(where: { Self.names(address, String($0)) })
        else { return false }
        try rewrite { lines in lines.filter { !Self.names(address, $0) } }
        return true
    }

    static func names(_ address: PCIAddress, _ line: String) -> Bool {
        let words = line.split(separator: " ")
        return words.count >= 3 && words[0] == "request" && words[2] == address.description
    }

    private func rewrite(checkOnly: Bool = false, _ change: ([String]) -> [String]) throws {
        let existing = (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let header = "# Written by flavourctl set --persist / unset. One standing request per line."
        let lines = change(existing.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty })
        let text = ([header] + lines).joined(separator: "\n") + "\n"
        // Check the config as the daemon will read it, with this file changed.
        var files: [(name: String, text: String)] = []
        for name in FileSystem.list(configDirectory) where MatchTableLoader.isConfigFile(name) && name != DefaultPaths.persistedRequestsFile {
            files.append((name, String(decoding: (try? FileSystem.read(configDirectory + "/" + name)) ?? [], as: UTF8.self)))
        }
        files.append((DefaultPaths.persistedRequestsFile, text))
        files.sort { $0.name < $1.name }
        do { _ = try FlavourConfig.parse(files: files) } catch {
            throw CLIError("not persisted: the config would be broken:\n\(error.description)")
        }
        if checkOnly { return }
        do { try FileSystem.writeAtomically(Array(text.utf8), to: path) } catch {
            throw CLIError("not persisted: \(error.description)")
        }
    }
}
