import FlavourCore
import FlavourEngine
import FlavourPOSIX
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Every request flavourd accepted and has not yet answered, under `RUN_DIR/requests/`, so
/// that a restarted or killed flavourd carries out what its predecessor took on. A request is
/// recorded before it is queued and its record ends once its outcome is logged.
///
/// One file per process, `<pid>-<id>`, appended to: a line per request accepted and a line
/// per request ended (`RequestRecord`), one `pwrite` each, no fsync: two syscalls a request
/// (a batch of requests accepted together, such as a start's standing requests, is one
/// pwrite), plus an ftruncate when the file is cut back. The `finish` line is written at
/// once, not batched: a record that outlives its outcome would be carried out twice after a
/// crash. `/run` is memory: the
/// records must outlive the process, not a power cut (after a reboot no request of the last
/// boot applies; a file from another boot is ignored). A storm of a thousand requests is a
/// thousand short appends to memory; when nothing is pending the file is cut back to its
/// header, and a file grown large is rewritten with what is pending.
///
/// As in the crash journal (`InFlightJournal`), a lock says who is alive: the process holds
/// an open-file-description lock on its file, so a file whose lock can be taken belongs to a
/// dead process. A crash at any step leaves whole lines and at most one cut line, which
/// reading skips; a request taken over from a dead file is recorded in the new file before
/// the old one goes, and records are told apart by id, so one taken over twice counts once.
public final class RequestJournal: Sendable {
    public let directory: String

    private struct State {
        var fd: Int32 = -1
        var name: String?
        /// Bytes in the file: appends go there.
        var size = 0
        /// What is pending, by id: what a rewrite keeps.
        var pending: [UInt64: RequestRecord] = [:]
        var nextID: UInt64
        /// The errno of the first failed write, once; later ones are not reported again.
        var failure: Int32?
        var reported = false
    }

    private let state: Mutex<State>

    /// A file larger than this is rewritten with only what is pending.
    static let rewriteSize = 1 << 20
    /// With nothing pending, a file larger than this is cut back to its header.
    static let truncateSize = 64 << 10

    public init(directory: String) {
        self.directory = directory
        // Ids grow with time across processes (CLOCK_REALTIME in nanoseconds at start, then
        // one by one), so sorting by id is the order requests were accepted in.
        state = Mutex(State(nextID: Self.realtimeNanoseconds()))
    }

    deinit { close() }

    /// Why records could not be written, the first time it happens (then nil): the requests
    /// are carried out all the same, but would not survive a restart.
    public func takeFailure() -> String? {
        state.withLock { state in
            guard let failure = state.failure, !state.reported else { return nil }
            state.reported = true
            return "cannot write \(directory) (\(Errno.name(failure)): \(Errno.message(failure)))"
        }
    }

    // MARK: - Recording

    /// Records requests before they are queued, in one write; returns them with their ids.
    public func accept(_ requests: [FlavourRequest]) -> [FlavourRequest] {
        guard !requests.isEmpty else { return [] }
        return state.withLock { state in
            var recorded: [FlavourRequest] = []
            var text = ""
            for request in requests {
                let id = state.nextID
                state.nextID += 1
                let record = RequestRecord(request, id: id)
                state.pending[id] = record
                text += record.acceptedLine
                recorded.append(request.recorded(as: id))
            }
            append(text, &state)
            return recorded
        }
    }

    public func accept(_ request: FlavourRequest) -> FlavourRequest { accept([request])[0] }

    /// The request's outcome is logged (or it was never queued): its record ends.
    public func finish(_ request: FlavourRequest) {
        guard let id = request.id else { return }
        state.withLock { state in
            guard state.pending.removeValue(forKey: id) != nil else { return }
            append(RequestRecord.finishedLine(id), &state)
            compact(&state)
        }
    }

    /// What is pending now, oldest first.
    public var pending: [(id: UInt64, address: PCIAddress, flavour: String)] {
        state.withLock { state in
            state.pending.keys.sorted().map { (id: $0, address: state.pending[$0]!.address, flavour: state.pending[$0]!.flavour) }
        }
    }

    /// With the lock held: appends to this process's file, made on first use.
    private func append(_ text: String, _ state: inout State) {
        guard openFile(&state) else { return }
        let bytes = Array(text.utf8)
        let failure = FileSystem.write(bytes, to: state.fd, at: state.size)
        if failure == 0 {
            state.size += bytes.count
        } else {
            // Whole lines or nothing: a cut line would read as a cut line, but the next
            // append would follow it on the same line.
            _ = ftruncate(state.fd, off_t(state.size))
            if state.failure == nil { state.failure = failure }
        }
    }

    /// With the lock held: keeps the file small. With nothing pending it is cut back to its
    /// header; grown past `rewriteSize`, a new file with only what is pending replaces it.
    private func compact(_ state: inout State) {
        guard state.fd >= 0 else { return }
        let header = Self.header
        if state.pending.isEmpty {
            guard state.size > Self.truncateSize, ftruncate(state.fd, off_t(header.utf8.count)) == 0 else { return }
            state.size = header.utf8.count
        } else if state.size > Self.rewriteSize {
            let old = (fd: state.fd, name: state.name)
            state.fd = -1
            state.name = nil
            state.size = 0
            let text = state.pending.keys.sorted().map { state.pending[$0]!.acceptedLine }.joined()
            append(text, &state)
            guard state.fd >= 0, state.failure == nil else {
                // No new file: keep the old one.
                if state.fd >= 0 { Glibc.close(state.fd) }
                if let name = state.name { unlink(directory + "/" + name) }
                state.fd = old.fd
                state.name = old.name
                var info = stat()
                state.size = fstat(old.fd, &info) == 0 ? Int(info.st_size) : 0
                return
            }
            if let name = old.name { unlink(directory + "/" + name) }
            Glibc.close(old.fd)
        }
    }

    /// With the lock held: this process's file, created and locked, its header written.
    private func openFile(_ state: inout State) -> Bool {
        if state.fd >= 0 { return true }
        let name = "\(getpid())-\(state.nextID)"
        let flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC
        var fd = Syscall.retrying { open(directory + "/" + name, flags, 0o600) }
        if fd < 0, errno == ENOENT {
            FileSystem.makeDirectories(directory)
            fd = Syscall.retrying { open(directory + "/" + name, flags, 0o600) }
        }
        guard fd >= 0 else {
            if state.failure == nil { state.failure = errno }
            return false
        }
        // Held for the life of the process: a file whose lock is free is a dead one's.
        _ = FileLock.set(fd, at: 0, F_WRLCK)
        let header = Array(Self.header.utf8)
        let failure = FileSystem.write(header, to: fd, at: 0)
        guard failure == 0 else {
            Glibc.close(fd)
            unlink(directory + "/" + name)
            if state.failure == nil { state.failure = failure }
            return false
        }
        state.fd = fd
        state.name = name
        state.size = header.count
        return true
    }

    /// Ends the journal (flavourd stops): with nothing pending its file goes; otherwise it
    /// stays for the next start, its lock gone with the descriptor.
    public func close() {
        state.withLock { state in
            guard state.fd >= 0 else { return }
            if state.pending.isEmpty, let name = state.name { unlink(directory + "/" + name) }
            Glibc.close(state.fd)
            state.fd = -1
            state.name = nil
        }
    }

    // MARK: - Taking over

    /// The requests processes that are gone (their file's lock is free) accepted and never
    /// answered, oldest first. They are recorded in this journal, under their own ids, before
    /// the old files are removed. Files of live processes are left alone.
    public func recover() -> [RequestRecord] {
        let own = state.withLock { $0.name }
        var found: [UInt64: RequestRecord] = [:]
        var finished: Set<UInt64> = []
        var dead: [(fd: Int32, name: String)] = []
        let boot = Self.header
        for name in FileSystem.list(directory) where name != own && !name.hasPrefix(".") {
            let fd = Syscall.retrying { open(directory + "/" + name, O_RDWR | O_CLOEXEC) }
            guard fd >= 0 else { continue }
            guard FileLock.set(fd, at: 0, F_WRLCK) else {  // its process is alive
                Glibc.close(fd)
                continue
            }
            dead.append((fd, name))
            guard let bytes = try? FileSystem.read(directory + "/" + name) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            // A file of another boot (a run directory that is not in /run): nothing in it applies.
            guard text.hasPrefix(boot) else { continue }
            // Only whole lines: the last one may have been cut by the crash.
            let lines = text.dropFirst(boot.count).split(separator: "\n", omittingEmptySubsequences: true)
            for (index, line) in lines.enumerated() {
                if index == lines.count - 1, !text.hasSuffix("\n") { break }
                switch RequestRecord.parse(line) {
                case .accepted(let record)?: found[record.id] = record
                case .finished(let id)?: finished.insert(id)
                case nil: continue
                }
            }
        }
        let pending = found.keys.filter { !finished.contains($0) }.sorted().map { found[$0]! }
        state.withLock { state in
            var text = ""
            for record in pending where state.pending[record.id] == nil {
                state.pending[record.id] = record
                text += record.acceptedLine
            }
            if let last = pending.last, last.id >= state.nextID { state.nextID = last.id + 1 }
            if !text.isEmpty { append(text, &state) }
        }
        for file in dead {
            unlink(directory + "/" + file.name)
            Glibc.close(file.fd)
        }
        return pending
    }

    /// The first line of every file: the boot it was written in.
    static let header: String = {
        var id = (try? FileSystem.read("/proc/sys/kernel/random/boot_id")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        while id.hasSuffix("\n") { id.removeLast() }
        return "flavourd-requests 1 boot=\(id)\n"
    }()

    static func realtimeNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
