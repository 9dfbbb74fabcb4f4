@testable import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// status.json and the persisted requests are replaced whole or not at all.
@Suite struct FileSystemWriteTests {
    let directory = try! TemporaryDirectory(prefix: "flavour-write")

    func read(_ path: String) -> String? { (try? FileSystem.read(path)).map { String(decoding: $0, as: UTF8.self) } }

    @Test func replacesTheFileAndLeavesNothingBeside() throws {
        let path = directory.path + "/status.json"
        try FileSystem.writeAtomically(Array("old\n".utf8), to: path)
        try FileSystem.writeAtomically(Array("new\n".utf8), to: path)
        #expect(read(path) == "new\n")
        #expect(FileSystem.list(directory.path) == ["status.json"])
    }

    /// rename(2) over a directory fails (EISDIR): the error names the file, the new file goes.
    @Test func aFailedReplaceLeavesTheOldAndNoTemporaryFile() throws {
        let path = directory.path + "/status.json"
        #expect(mkdir(path, 0o755) == 0)
        let error = try #require(throws: FileSystem.WriteError.self) {
            try FileSystem.writeAtomically(Array("new\n".utf8), to: path)
        }
        #expect(error.errno == EISDIR)
        #expect(error.description == "cannot write \(path): Is a directory; it is unchanged")
        #expect(FileSystem.list(directory.path) == ["status.json"])
    }

    /// flavourd.service sets UMask=0077; status.json must still be readable by every user.
    @Test func theModeIsTheOneAskedForWhateverTheUmask() throws {
        let path = directory.path + "/status.json"
        let old = umask(0o077)
        defer { umask(old) }
        try FileSystem.writeAtomically(Array("x".utf8), to: path)
        try FileSystem.writeAtomically(Array("x".utf8), to: directory.path + "/private", mode: 0o600)
        var status = stat(), other = stat()
        #expect(stat(path, &status) == 0 && stat(directory.path + "/private", &other) == 0)
        #expect(status.st_mode & 0o777 == 0o644)
        #expect(other.st_mode & 0o777 == 0o600)
    }

    /// The file being written is a dot file beside the target: node-feature-discovery skips dot
    /// files and node_exporter reads only `*.prom`, so neither sees it half-written.
    @Test func theTemporaryFileIsHiddenBesideTheTarget() {
        let first = FileSystem.temporaryPath(beside: "/etc/kubernetes/node-feature-discovery/features.d/driver-flavour")
        let second = FileSystem.temporaryPath(beside: "/etc/kubernetes/node-feature-discovery/features.d/driver-flavour")
        #expect(first.hasPrefix("/etc/kubernetes/node-feature-discovery/features.d/.driver-flavour.\(getpid())."))
        #expect(first.hasSuffix(".tmp"))
        #expect(first != second)
        #expect(FileSystem.temporaryPath(beside: "status.json").hasPrefix(".status.json."))
    }

    @Test func aMissingDirectoryIsENOENT() throws {
        let path = directory.path + "/run/status.json"
        let error = try #require(throws: FileSystem.WriteError.self) {
            try FileSystem.writeAtomically(Array("x".utf8), to: path)
        }
        #expect(error.errno == ENOENT)
        #expect(FileSystem.list(directory.path).isEmpty)
    }
}
