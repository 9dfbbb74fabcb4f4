import FlavourCore
import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// The host's tables for one run of the in-use guard, each read at most once however many
/// devices the run looks at (`flavourctl list` looks at all): the kernel's index of device
/// nodes, the network's routes and addresses, mounts and swaps, and the scan of /proc.
final class InUseSurvey {
    let guardian: InUseGuard
    var sysfs: Sysfs { guardian.sysfs }

    init(_ guardian: InUseGuard) {
        self.guardian = guardian
    }

    // MARK: - Device nodes

    /// A node in the kernel's index, `dev/char/MAJ:MIN` and `dev/block/MAJ:MIN`
    /// (`drivers/base/core.c`, device_create_sys_dev_entry), each a link to the device that
    /// has it, wherever that sits in the tree.
    struct IndexedNode {
        let number: DeviceNumber
        let entry: String
        let target: String
    }

    private(set) lazy var nodeIndex: [IndexedNode] = [DeviceNumber.Kind.char, .block].flatMap { kind in
        let directory = "dev/" + kind.rawValue
        return sysfs.list(directory).compactMap { name -> IndexedNode? in
            guard let number = DeviceNumber(kind, dev: name), let target = sysfs.linkTarget(directory + "/" + name) else { return nil }
            return IndexedNode(number: number, entry: directory + "/" + name, target: target)
        }
    }

    /// Every device node below `directory` (the device's, resolved; `component` its last
    /// path component), with its path in /dev from its uevent's DEVNAME. As with class
    /// links, only index entries whose target names the device are resolved.
    func nodes(below directory: String, naming component: String) -> [InUseReason.DeviceNode] {
        nodeIndex.compactMap { node in
            guard node.target.split(separator: "/").contains(Substring(component)),
                  let resolved = sysfs.resolveInside(node.entry), resolved.hasPrefix(directory + "/")
            else { return nil }
            return InUseReason.DeviceNode(number: node.number, path: "/dev/" + (Self.devName(sysfs, resolved) ?? Self.lastComponent(resolved)))
        }
    }

    /// A device's DEVNAME (`dri/card0`, `vfio/devices/vfio0`, `vdb`), from its `uevent`
    /// (`drivers/base/core.c`, dev_uevent).
    static func devName(_ sysfs: Sysfs, _ directory: String) -> String? {
        guard let uevent = sysfs.readEntry("uevent", of: directory) else { return nil }
        for line in uevent.split(separator: "\n") where line.hasPrefix("DEVNAME=") {
            let name = line.dropFirst(8)
            // A name below /dev: no way up, not absolute.
            guard !name.isEmpty, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else { return nil }
            return String(name)
        }
        return nil
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    // MARK: - Processes

    /// Which processes hold which of the wanted nodes, and, when part of /proc could not
    /// be read, what stopped it.
    struct ProcessScan {
        var holders: [DeviceNumber: [InUseReason.Holder]] = [:]
        var failure: String?
    }

    private var scans: [Set<DeviceNumber>: ProcessScan] = [:]

    /// Every process's open files (`/proc/PID/fd/N`, stat follows the magic link to the
    /// open file), compared by device number with `wanted`. Fails closed: no process at all,
    /// processes hidden by the procfs mount, or a process whose files cannot be listed is a
    /// failure naming it; a process that ends meanwhile is skipped.
    func scanProcesses(for wanted: Set<DeviceNumber>) -> ProcessScan {
        if let done = scans[wanted] { return done }
        var scan = ProcessScan()
        defer { scans[wanted] = scan }
        let root = guardian.procRoot
        let pids: [Int32]
        do {
            pids = try guardian.probe.entries(of: root).compactMap { Int32($0) }
        } catch {
            scan.failure = "cannot list the processes in \(root): \(error.message)"
            return scan
        }
        guard !pids.isEmpty else {
            scan.failure = "\(root) lists no process (is procfs mounted there?)"
            return scan
        }
        var denied: [String] = []
        for pid in pids.sorted() {
            let directory = "\(root)/\(pid)/fd"
            let files: [String]
            do { files = try guardian.probe.entries(of: directory) } catch {
                if error.rawValue == ENOENT || error.rawValue == ESRCH { continue }  // it ended
                denied.append("\(command(of: pid)) (pid \(pid)): \(error.message)")
                continue
            }
            var held: Set<DeviceNumber> = []
            for file in files {
                do {
                    guard let number = try guardian.probe.deviceNode(at: directory + "/" + file), wanted.contains(number) else { continue }
                    held.insert(number)
                } catch {
                    if error.rawValue == ENOENT { continue }  // closed meanwhile
                    denied.append("\(command(of: pid)) (pid \(pid)) fd \(file): \(error.message)")
                }
            }
            if !held.isEmpty {
                let holder = InUseReason.Holder(pid: pid, command: command(of: pid))
                for number in held { scan.holders[number, default: []].append(holder) }
            }
        }
        var failures: [String] = []
        if let hidden = hiddenProcesses() { failures.append(hidden) }
        if !denied.isEmpty {
            let shown = denied.prefix(3).joined(separator: "; ")
            failures.append("cannot read the open files of \(shown)\(denied.count > 3 ? " and \(denied.count - 3) more" : "")")
        }
        if !failures.isEmpty { scan.failure = failures.joined(separator: "; ") }
        return scan
    }

    /// Why processes may be missing from the scan: procfs mounted with `hidepid=`
    /// (ProtectProc= in a unit) shows other users' processes only to a reader with
    /// CAP_SYS_PTRACE or in its `gid=` group (`fs/proc/base.c`, has_pid_permissions), and
    /// hides the rest without an error. Nil when none can be hidden.
    func hiddenProcesses() -> String? {
        let root = guardian.procRoot
        let status = (try? guardian.readProc("self/status").get()) ?? ""
        guard case .success(let text) = guardian.readProc("self/mountinfo"),
              let procfs = MountTable.parse(mountinfo: text).procfs(at: root),
              ProcessStatus.hidesProcesses(options: procfs.superOptions, groups: ProcessStatus.groups(status: status))
        else { return nil }
        if let capabilities = ProcessStatus.effectiveCapabilities(status: status), capabilities & ProcessStatus.sysPtrace != 0 {
            return nil
        }
        let option = procfs.superOptions.split(separator: ",").first { $0.hasPrefix("hidepid=") } ?? "hidepid"
        return "other users' processes are hidden from it (\(root) is mounted with \(option), and it lacks CAP_SYS_PTRACE)"
    }

    private var commands: [Int32: String] = [:]

    /// A process's `comm`, `?` when it cannot be read.
    func command(of pid: Int32) -> String {
        if let known = commands[pid] { return known }
        var text = (try? guardian.readProc("\(pid)/comm").get()) ?? "?"
        if text.hasSuffix("\n") { text.removeLast() }
        commands[pid] = text
        return text
    }

    // MARK: - Other network namespaces

    /// Another network namespace, seen through one of its processes: its sysfs as that
    /// process's mount namespace has it (`/proc/PID/root/sys`) and its tables
    /// (`/proc/PID/net/*` are always the process's own namespace's, `fs/proc/proc_net.c`).
    struct ForeignNamespace {
        let reference: InUseReason.NetworkNamespace
        let sysfs: Sysfs
        let network: InUseGuard.Network
    }

    struct NamespaceSurvey {
        var visible: [ForeignNamespace] = []
        /// Namespaces no process of which shows its own sysfs (one made by `ip netns add`
        /// and no process in it, or processes that entered it without mounting sysfs).
        var unseen = 0
        /// What kept processes' namespaces from being read.
        var failure: String?
    }

    /// Every network namespace other than the reader's that a process is in (its
    /// `ns/net` link names it, `net:[inode]`), each seen through the first of its processes
    /// whose sysfs shows that namespace: the interfaces listed in its `class/net` are the
    /// ones `/proc/PID/net/dev` lists (a process that entered the namespace with setns(2)
    /// alone still sees the sysfs of the namespace it came from).
    private(set) lazy var namespaces: NamespaceSurvey = {
        var survey = NamespaceSurvey()
        let root = guardian.procRoot
        let own: String
        do throws(Errno) { own = try guardian.probe.link(at: root + "/self/ns/net") } catch {
            survey.failure = "cannot read its own network namespace (\(root)/self/ns/net): \(error.message)"
            return survey
        }
        let pids: [Int32]
        do throws(Errno) { pids = try guardian.probe.entries(of: root).compactMap { Int32($0) }.sorted() } catch {
            survey.failure = "cannot list the processes in \(root): \(error.message)"
            return survey
        }
        var order: [String] = []
        var members: [String: [Int32]] = [:]
        var denied: [String] = []
        for pid in pids {
            do throws(Errno) {
                let namespace = try guardian.probe.link(at: "\(root)/\(pid)/ns/net")
                guard namespace != own else { continue }
                if members[namespace] == nil { order.append(namespace) }
                members[namespace, default: []].append(pid)
            } catch {
                if error.rawValue == ENOENT || error.rawValue == ESRCH { continue }  // it ended
                denied.append("\(command(of: pid)) (pid \(pid)): \(error.message)")
            }
        }
        if !denied.isEmpty {
            survey.failure = "cannot read the network namespace of \(denied.prefix(3).joined(separator: "; "))"
                + (denied.count > 3 ? " and \(denied.count - 3) more" : "")
        }
        for namespace in order {
            let seen = members[namespace, default: []].lazy.compactMap { self.view(of: namespace, through: $0) }.first
            if let seen { survey.visible.append(seen) } else { survey.unseen += 1 }
        }
        return survey
    }()

    /// The namespace through process `pid`, when its sysfs shows that namespace.
    private func view(of namespace: String, through pid: Int32) -> ForeignNamespace? {
        let base = "\(guardian.procRoot)/\(pid)"
        let view = Sysfs(root: base + "/root/sys", writer: sysfs.writer)
        let listed = Set(view.list("class/net"))
        guard !listed.isEmpty, case .success(let dev) = guardian.readProc("\(pid)/net/dev"),
              listed == Set(Self.interfaceNames(netDev: dev)),
              case .success(let route) = guardian.readProc("\(pid)/net/route"),
              case .success(let ipv6Route) = guardian.readProc("\(pid)/net/ipv6_route"),
              case .success(let ifInet6) = guardian.readProc("\(pid)/net/if_inet6")
        else { return nil }
        let network = InUseGuard.Network(
            routes: RouteTable.parse(ipv4: route, ipv6: ipv6Route), addresses: InterfaceAddresses.parse(ifInet6: ifInet6))
        let reference = InUseReason.NetworkNamespace(id: namespace, holder: InUseReason.Holder(pid: pid, command: command(of: pid)))
        return ForeignNamespace(reference: reference, sysfs: view, network: network)
    }

    /// The interface names of `/proc/net/dev` (`net/core/net-procfs.c`, dev_seq_show: two
    /// header lines, then `name: counters`).
    static func interfaceNames(netDev text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).dropFirst(2).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].drop { $0 == " " }
            return name.isEmpty ? nil : String(name)
        }
    }

    // MARK: - Tables under /proc

    private(set) lazy var network: Result<InUseGuard.Network, FileSystem.Error> = Result { () throws(FileSystem.Error) in
        InUseGuard.Network(
            routes: RouteTable.parse(ipv4: try guardian.readProc("net/route").get(), ipv6: try guardian.readProc("net/ipv6_route").get()),
            addresses: InterfaceAddresses.parse(ifInet6: try guardian.readProc("net/if_inet6").get()))
    }

    private(set) lazy var mounts: Result<MountTable, FileSystem.Error> = guardian.readProc("self/mountinfo").map(MountTable.parse)

    private(set) lazy var swaps: Result<SwapList, FileSystem.Error> = guardian.readProc("swaps").map(SwapList.parse)
}
