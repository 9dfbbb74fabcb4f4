import FlavourCore
import FlavourEngine
import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// Device nodes and the processes that hold them open, as the in-use guard sees them:
/// every node's `dev`, `uevent` (DEVNAME) and `dev/{char,block}/MAJ:MIN` link in sysfs;
/// `<proc>/PID/comm` and `<proc>/PID/fd/N` (links that read like the kernel's, `/dev/vdb`,
/// `socket:[4242]`); and, as `HostProbe`, what only the kernel knows: which device an
/// open file is (stat of the fd's magic link), who may list a process's files, and which
/// block devices it holds exclusively (an O_EXCL open is EBUSY).
extension TestKernel: HostProbe {
    // MARK: - Device nodes

    /// A char device below a device (`drm/card0`, `usb1/1-1/1-1:1.0/0003:0627:0001.0001/input/input3/event3`),
    /// with node `/dev/<name>` (`dri/card0`, `input/event3`) and the next minor of `major`.
    @discardableResult
    public func addCharDevice(below address: PCIAddress, path: String, name: String, major: UInt32) throws -> DeviceNumber {
        try state.withLock { state throws(SysfsError) in
            guard state.devices[address] != nil else { throw SysfsError(.write, path: "\(address)", errno: ENODEV) }
            let minor = state.host.nextCharMinor[major, default: 0]
            state.host.nextCharMinor[major] = minor + 1
            let number = DeviceNumber(.char, major: major, minor: minor)
            try makeNode(sysfsRoot + "/bus/pci/devices/\(address)/" + path, number, name: name, in: &state.host)
            return number
        }
    }

    /// A node's sysfs side: `dev`, `uevent` with DEVNAME, and its `dev/<kind>/MAJ:MIN` link,
    /// as `drivers/base/core.c` (device_add, device_create_sys_dev_entry) makes them.
    func makeNode(_ directory: String, _ number: DeviceNumber, name: String, in host: inout TestHost) throws(SysfsError) {
        try Tree.makeDirectories(directory)
        try Tree.writeFile(directory + "/dev", "\(number)\n")
        try Tree.writeFile(directory + "/uevent", "MAJOR=\(number.major)\nMINOR=\(number.minor)\nDEVNAME=\(name)\n")
        let index = sysfsRoot + "/dev/" + number.kind.rawValue
        try Tree.makeDirectories(index)
        try Tree.link(index + "/\(number)", to: Self.relative(from: index, to: directory))
        host.nodes[name] = number
    }

    /// Removes a node's sysfs side and its directory.
    func removeNode(_ directory: String, in host: inout TestHost) {
        let uevent = (try? Sysfs(root: directory).read("uevent")) ?? ""
        if let line = uevent.split(separator: "\n").first(where: { $0.hasPrefix("DEVNAME=") }),
           let number = host.nodes.removeValue(forKey: String(line.dropFirst(8))) {
            unlink(sysfsRoot + "/dev/\(number.kind.rawValue)/\(number)")
        }
        Tree.removeAll(directory)
    }

    // MARK: - Processes

    /// A process `comm` holding each of `paths` open: device nodes by their path in /dev
    /// (`/dev/vdb`, `/dev/vfio/12`), anything else as the kernel would show it. Its files
    /// show under `<proc>/PID/fd/`, from 3 on. Returns its pid.
    @discardableResult
    public func startProcess(_ comm: String, opening paths: [String]) throws -> Int32 {
        try state.withLock { state throws(SysfsError) in
            let pid = state.host.nextPID
            state.host.nextPID += 1
            try start(pid, comm, opening: paths, in: &state)
            return pid
        }
    }

    /// Process `pid` in the model and under `<proc>`.
    func start(_ pid: Int32, _ comm: String, opening paths: [String], in state: inout State) throws(SysfsError) {
            var files: [Int32: TestHost.OpenFile] = [0: .other("/dev/null"), 1: .other("socket:[4242]")]
            for (index, path) in paths.enumerated() {
                if path.hasPrefix("/dev/"), let number = state.host.nodes[String(path.dropFirst(5))] {
                    files[Int32(index + 3)] = .node(number, path: path)
                } else {
                    files[Int32(index + 3)] = .other(path)
                }
            }
            state.host.processes[pid] = TestHost.Process(comm: comm, files: files)
            let directory = procRoot + "/\(pid)"
            try Tree.makeDirectories(directory + "/fd")
            try Tree.makeDirectories(directory + "/ns")
            try Tree.writeFile(directory + "/comm", comm + "\n")
            try Tree.link(directory + "/ns/net", to: "net:[\(TestHost.initialNamespace)]")
            for (fd, file) in files {
                switch file {
                case let .node(_, path), let .other(path): try Tree.link(directory + "/fd/\(fd)", to: path)
                }
            }
    }

    /// The process exits: its /proc directory goes.
    public func endProcess(_ pid: Int32) {
        state.withLock { state in
            state.host.processes[pid] = nil
            for name in state.host.namespaces.keys { state.host.namespaces[name]!.processes.removeAll { $0 == pid } }
            Tree.removeAll(procRoot + "/\(pid)")
        }
    }

    /// Listing the process's files fails with EACCES, as another user's `fd/` does for a
    /// reader without CAP_DAC_READ_SEARCH (`fs/proc/fd.c`, proc_fd_permission), and so does
    /// reading its namespace links, without CAP_SYS_PTRACE.
    public func hideFiles(ofProcess pid: Int32) {
        state.withLock { $0.host.processes[pid]?.filesHidden = true }
    }

    /// procfs's mount options as the reader's mountinfo shows them (`hidepid=invisible`
    /// for a service with ProtectProc=invisible), and the reader's effective capabilities.
    public func mountProcfs(options: String, effectiveCapabilities: UInt64) throws {
        try state.withLock { state throws(SysfsError) in
            state.host.procfsOptions = options
            state.host.effectiveCapabilities = effectiveCapabilities
            try writeHostFiles(state.host)
        }
    }

    // MARK: - Exclusive claims

    /// The kernel holds the block device exclusively without saying so anywhere in sysfs
    /// (a ZFS vdev, a mount in another mount namespace).
    public func claimExclusively(_ block: String) throws {
        try state.withLock { state throws(SysfsError) in
            guard let device = state.host.blocks[block] else { throw SysfsError(.write, path: "/dev/\(block)", errno: ENODEV) }
            state.host.claimed.insert(device.number)
        }
    }

    /// A btrfs filesystem across `devices`, mounted from the first: each is claimed, each
    /// listed in `fs/btrfs/<uuid>/devices/` (`fs/btrfs/sysfs.c`, btrfs_sysfs_add_device),
    /// and mountinfo shows an anonymous device with the first one as the source.
    public func addBtrfs(uuid: String, label: String, devices: [String], mountedAt mountPoint: String) throws {
        try state.withLock { state throws(SysfsError) in
            let directory = sysfsRoot + "/fs/btrfs/\(uuid)"
            try Tree.makeDirectories(directory + "/devices")
            try Tree.writeFile(directory + "/label", label + "\n")
            for name in devices {
                guard let block = state.host.blocks[name] else { throw SysfsError(.write, path: "/dev/\(name)", errno: ENODEV) }
                try Tree.link(directory + "/devices/\(name)", to: Self.relative(from: directory + "/devices", to: block.directory))
                state.host.claimed.insert(block.number)
            }
            state.host.mounts.append(TestHost.Mount(block: devices[0], mountPoint: mountPoint, source: "/dev/\(devices[0])", filesystem: "btrfs"))
            try writeHostFiles(state.host)
        }
    }

    /// An nvmet namespace exporting the block device (configfs,
    /// `nvmet/subsystems/<nqn>/namespaces/<n>/{device_path,enable}`, `drivers/nvme/target/configfs.c`).
    /// nvmet opens it without a holder: not claimed (`drivers/nvme/target/io-cmd-bdev.c`).
    public func exportNVMet(_ block: String, subsystem nqn: String, namespace: Int) throws {
        try state.withLock { state throws(SysfsError) in
            guard state.host.blocks[block] != nil else { throw SysfsError(.write, path: "/dev/\(block)", errno: ENODEV) }
            let directory = sysfsRoot + "/kernel/config/nvmet/subsystems/\(nqn)/namespaces/\(namespace)"
            try Tree.makeDirectories(directory)
            try Tree.writeFile(directory + "/device_path", "/dev/\(block)\n")
            try Tree.writeFile(directory + "/enable", "1\n")
        }
    }

    /// A LIO iblock backstore on the block device (configfs,
    /// `target/core/iblock_<n>/<name>/{udev_path,enable}`, `drivers/target/target_core_configfs.c`).
    public func exportLIO(_ block: String, backstore: String, name: String) throws {
        try state.withLock { state throws(SysfsError) in
            guard let device = state.host.blocks[block] else { throw SysfsError(.write, path: "/dev/\(block)", errno: ENODEV) }
            let directory = sysfsRoot + "/kernel/config/target/core/\(backstore)/\(name)"
            try Tree.makeDirectories(directory)
            try Tree.writeFile(directory + "/udev_path", "/dev/\(block)\n")
            try Tree.writeFile(directory + "/enable", "1\n")
            state.host.claimed.insert(device.number)
        }
    }

    /// The block device registered with bcache: `bcache/` in its directory
    /// (`drivers/md/bcache/super.c`, register_bdev/register_cache), claimed.
    public func registerBcache(_ block: String) throws {
        try state.withLock { state throws(SysfsError) in
            guard let device = state.host.blocks[block] else { throw SysfsError(.write, path: "/dev/\(block)", errno: ENODEV) }
            try Tree.makeDirectories(device.directory + "/bcache")
            state.host.claimed.insert(device.number)
        }
    }

    // MARK: - HostProbe

    public func entries(of directory: String) throws(Errno) -> [String] {
        accessed(.procLook)
        let hidden = state.withLock { state in
            state.host.processes.contains { pid, process in process.filesHidden && directory == procRoot + "/\(pid)/fd" }
        }
        if hidden { throw Errno(EACCES) }
        var info = stat()
        guard stat(directory, &info) == 0 else { throw Errno.current }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw Errno(ENOTDIR) }
        return Sysfs(root: directory).list("")
    }

    public func link(at path: String) throws(Errno) -> String {
        accessed(.procLook)
        // Another user's process, to a reader without the capabilities: its ns links too.
        let hidden = state.withLock { state in
            state.host.processes.contains { pid, process in process.filesHidden && path.hasPrefix(procRoot + "/\(pid)/") }
        }
        if hidden { throw Errno(EACCES) }
        guard let target = readTarget(path) else { throw Errno.current }
        return target
    }

    private func readTarget(_ path: String) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buffer in
            let count = readlink(path, buffer.baseAddress!, buffer.count)
            guard count > 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count]), as: UTF8.self)
        }
    }

    public func deviceNode(at path: String) throws(Errno) -> DeviceNumber? {
        accessed(.procLook)
        return try state.withLock { state throws(Errno) -> DeviceNumber? in
            // The tree itself may live under /dev/shm: its /proc first.
            guard path.hasPrefix(procRoot + "/") else {
                guard path.hasPrefix("/dev/"), let number = state.host.nodes[String(path.dropFirst(5))] else { throw Errno(ENOENT) }
                return number
            }
            // <proc>/PID/fd/N: the open file the magic link leads to.
            let parts = path.dropFirst(procRoot.count + 1).split(separator: "/")
            guard parts.count == 3, parts[1] == "fd", let pid = Int32(parts[0]), let fd = Int32(parts[2]),
                  let process = state.host.processes[pid], let file = process.files[fd]
            else { throw Errno(ENOENT) }
            guard !process.filesHidden else { throw Errno(EACCES) }
            if case .node(let number, _) = file { return number }
            return nil
        }
    }

    public func driver(ofInterface name: String) -> String? {
        state.withLock { $0.host.interfaceDrivers[name] }
    }

    public func openExclusively(_ number: DeviceNumber, name: String) -> ExclusiveOpen {
        state.withLock { state in
            guard state.host.nodes[name] == number else { return .failed(path: "/dev/" + name, errno: Errno(ENOENT)) }
            return state.host.claimed.contains(number) ? .busy : .free
        }
    }
}
