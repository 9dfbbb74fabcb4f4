import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The request journal across a crash at every step: a process killed at any byte of its
/// appends leaves a file from which the next start takes over exactly the requests accepted
/// and not yet answered, each once.
@Suite struct RequestJournalTests {
    static let vfio = RequestedFlavour.flavour(.vfio)

    static func request(_ address: String, _ requested: RequestedFlavour, _ origin: RequestOrigin, uuid: String? = nil,
                        sequence: UInt64? = nil, options: RequestOptions = .init()) -> FlavourRequest {
        FlavourRequest(address: try! PCIAddress(parsing: address), requested: requested, origin: origin, uuid: uuid,
                       options: options, sequence: sequence)
    }

    /// A day's work in a journal: four requests accepted, three answered, in an interleaving
    /// a daemon makes; the file it leaves and, after each step, the requests pending then.
    static func work(in directory: String) -> (file: [UInt8], steps: [(bytes: Int, pending: Set<String>)]) {
        let journal = RequestJournal(directory: directory)
        var steps: [(Int, Set<String>)] = []
        func size() -> Int { FileSystem.list(directory).map { (try? FileSystem.read(directory + "/" + $0))?.count ?? 0 }.reduce(0, +) }
        func note() { steps.append((size(), Set(journal.pending.map { "\($0.address) \($0.flavour)" }))) }
        let a = journal.accept(request("0000:02:00.0", vfio, .synthetic, uuid: "d41f7c3a-2b9e-4a58-8c61-0e3f5a7b9d12"))
        note()
        let batch = journal.accept([
            request("0000:02:00.1", .revert, .attribute, sequence: 7),
            request("0000:02:00.2", vfio, .coldplug, options: RequestOptions(force: true, group: true)),
        ])
        note()
        journal.finish(a)
        note()
        let d = journal.accept(request("0000:02:00.3", vfio, .synthetic, uuid: "a b\n%c"))  // a UUID no kernel sends
        note()
        journal.finish(batch[0])
        note()
        journal.finish(batch[1])
        note()
        journal.finish(d)
        note()
        let file = FileSystem.list(directory).first.flatMap { try? FileSystem.read(directory + "/" + $0) } ?? []
        // As SIGKILL leaves it: the lock goes with the process, the file stays.
        return (file, steps)
    }

    @Test func aCrashAtEveryByteLeavesWhatWasPendingAtTheLastWholeLine() throws {
        let kernel = try TestKernel()
        let (file, steps) = Self.work(in: kernel.root + "/first")
        #expect(!file.isEmpty)
        #expect(steps.last?.pending.isEmpty == true)
        let header = file.firstIndex(of: UInt8(ascii: "\n"))! + 1
        for length in 0...file.count {
            let directory = kernel.root + "/crash-\(length)"
            FileSystem.makeDirectories(directory)
            let fd = open(directory + "/4242-1", O_WRONLY | O_CREAT | O_EXCL, 0o600)
            #expect(FileSystem.write(Array(file[0..<length]), to: fd, at: 0) == 0)
            close(fd)
            // What was pending after the last line whose newline is in the prefix: after the
            // last step written whole, or within a step of two lines, after its first.
            let expected = Self.pending(in: Array(file[0..<length]), header: header)
            if let step = steps.last(where: { $0.bytes <= length }), steps.contains(where: { $0.bytes == length }) {
                #expect(expected == step.pending)
            }
            let journal = RequestJournal(directory: directory)
            let taken = journal.recover()
            #expect(Set(taken.map { "\($0.address) \($0.flavour)" }) == (length < header ? [] : expected), "crash after \(length) bytes")
            #expect(taken.count == Set(taken.map(\.id)).count)
            // Taken over: in the new journal, the dead file gone.
            #expect(Set(journal.pending.map { "\($0.address) \($0.flavour)" }) == Set(taken.map { "\($0.address) \($0.flavour)" }))
            #expect(!FileSystem.list(directory).contains("4242-1"))
            if let revert = taken.first(where: { $0.address.description == "0000:02:00.1" }) {
                #expect(revert.origin == .attribute && revert.sequence == 7 && revert.flavour == "none")
            }
            if let group = taken.first(where: { $0.address.description == "0000:02:00.2" }) {
                #expect(group.options == RequestOptions(force: true, group: true) && group.origin == .coldplug)
            }
            if let odd = taken.first(where: { $0.address.description == "0000:02:00.3" }) { #expect(odd.uuid == "a b\n%c") }
        }
    }

    /// The oracle: `a ID ADDRESS FLAVOUR ...` lines add, `d ID` lines remove, whole lines only.
    static func pending(in bytes: [UInt8], header: Int) -> Set<String> {
        guard bytes.count >= header else { return [] }
        var pending: [Substring: String] = [:]
        let text = String(decoding: bytes[header...], as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let words = line.split(separator: " ")
            if words.first == "a" { pending[words[1]] = "\(words[2]) \(words[3])" }
            if words.first == "d" { pending[words[1]] = nil }
        }
        return Set(pending.values)
    }

    /// A crash while taking over (the requests copied into the new file, the old file not yet
    /// removed): the next start finds them twice and takes each over once. Answering one ends it.
    @Test func requestsTakenOverTwiceCountOnce() throws {
        let kernel = try TestKernel()
        let directory = kernel.root + "/run"
        let first = RequestJournal(directory: directory)
        _ = first.accept([Self.request("0000:02:00.0", Self.vfio, .synthetic), Self.request("0000:02:00.1", Self.vfio, .hotplug)])
        first.close()  // it stopped with both pending: the file stays
        let name = try #require(FileSystem.list(directory).first)
        let bytes = try FileSystem.read(directory + "/" + name)
        let copy = open(directory + "/9999-1", O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(FileSystem.write(bytes, to: copy, at: 0) == 0)
        close(copy)
        let second = RequestJournal(directory: directory)
        let taken = second.recover()
        #expect(taken.map(\.address.description) == ["0000:02:00.0", "0000:02:00.1"])
        second.finish(FlavourRequest(address: taken[0].address, requested: Self.vfio, origin: .synthetic, id: taken[0].id))
        second.close()
        let third = RequestJournal(directory: directory)
        #expect(third.recover().map(\.address.description) == ["0000:02:00.1"])
    }

    /// A file of another boot (a run directory kept on disk) holds nothing that applies now.
    @Test func aFileOfAnotherBootIsIgnored() throws {
        let kernel = try TestKernel()
        let directory = kernel.root + "/run"
        FileSystem.makeDirectories(directory)
        let text = "flavourd-requests 1 boot=00000000-0000-0000-0000-000000000000\na 5 0000:02:00.0 vfio synthetic - - -\n"
        let fd = open(directory + "/77-1", O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(FileSystem.write(Array(text.utf8), to: fd, at: 0) == 0)
        close(fd)
        #expect(RequestJournal(directory: directory).recover().isEmpty)
        #expect(FileSystem.list(directory).isEmpty)
    }

    /// A storm does not grow the file without end: once nothing is pending it is cut back to
    /// its header, and a file grown past a mebibyte with a request still pending is rewritten
    /// with only that one, which the next start still takes over.
    @Test func theFileStaysSmall() throws {
        let kernel = try TestKernel()
        let directory = kernel.root + "/run"
        let journal = RequestJournal(directory: directory)
        func size() -> Int { FileSystem.list(directory).map { (try? FileSystem.read(directory + "/" + $0))?.count ?? 0 }.reduce(0, +) }
        let storm = journal.accept((0..<2000).map { Self.request("0000:02:0\($0 % 8).\($0 % 8)", Self.vfio, .synthetic, uuid: "u\($0)") })
        #expect(size() > 64 << 10)
        storm.forEach(journal.finish)
        #expect(size() < 200)
        let kept = journal.accept(Self.request("0000:03:00.0", .revert, .attribute, sequence: 1))
        for round in 0..<12 {
            let more = journal.accept((0..<1000).map { Self.request("0000:02:00.\($0 % 8)", Self.vfio, .synthetic, uuid: "r\(round)-\($0)") })
            more.forEach(journal.finish)
        }
        #expect(FileSystem.list(directory).count == 1)
        #expect(size() < 1 << 20 + 200_000)
        journal.close()
        let taken = RequestJournal(directory: directory).recover()
        #expect(taken.map { "\($0.address) \($0.flavour) \($0.id)" } == ["0000:03:00.0 none \(kept.id!)"])
    }
}
