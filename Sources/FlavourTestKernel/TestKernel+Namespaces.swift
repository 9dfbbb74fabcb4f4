import FlavourCore
import FlavourEngine

#if canImport(Glibc)
import Glibc
#endif

/// Other network namespaces, as a reader in the initial one meets them: each namespace's
/// interfaces are gone from this sysfs (`class/net`, and the device's `net/`, which stays,
/// empty) and from this `/proc/net`; a process in the namespace shows it as the kernel does,
/// through `<proc>/PID/ns/net` (`net:[inode]`), `<proc>/PID/net/*` (its namespace's tables) and
/// `<proc>/PID/root/sys`, the sysfs its mount namespace has mounted for that network
/// namespace (`ip netns exec` and container runtimes mount one), kept under `netns/NAME`.
extension TestKernel {
    /// Moves an interface into namespace `namespace` (made if new), as `ip link set NAME
    /// netns NS`, and sets it up or down there with routes and IPv6 addresses.
    public func moveInterface(
        _ name: String, toNetworkNamespace namespace: String, up: Bool = true, route: TestRoute? = nil, ipv6: [String] = []
    ) throws {
        try state.withLock { state throws(SysfsError) in
            guard var interface = state.host.interfaces[name] else { throw SysfsError(.write, path: "class/net/\(name)", errno: ENODEV) }
            unlink(sysfsRoot + "/class/net/\(name)")
            Tree.removeAll(interface.directory)
            state.host.interfaces[name] = nil
            state.host.interfaceOrder.removeAll { $0 == name }
            try writeHostFiles(state.host)
            // Its directory keeps its place in the device tree, seen from the namespace's sysfs.
            interface.directory = String(interface.directory.dropFirst(sysfsRoot.count + 1))
            interface.up = up
            interface.routes = up ? route.map { [$0] } ?? [] : []
            interface.ipv6 = up ? ipv6 : []
            try add(interface, named: name, to: namespace, in: &state)
        }
    }

    /// A macvlan (or ipvlan) on `lower`, an interface of this namespace, living in
    /// `namespace`: no adjacency links cross namespaces, only its `iflink` names the lower's
    /// ifindex (`drivers/net/macvlan.c`, macvlan_dev_get_iflink).
    public func addMacvlan(
        _ name: String, on lower: String, inNetworkNamespace namespace: String, up: Bool = true, route: TestRoute? = nil,
        ipv6: [String] = []
    ) throws {
        try state.withLock { state throws(SysfsError) in
            guard let lowerInterface = state.host.interfaces[lower] else { throw SysfsError(.write, path: "class/net/\(lower)", errno: ENODEV) }
            let interface = TestHost.Interface(
                directory: "devices/virtual/net/\(name)", up: up, routes: up ? route.map { [$0] } ?? [] : [], ipv6: up ? ipv6 : [],
                ifindex: 0, iflink: lowerInterface.ifindex)
            try add(interface, named: name, to: namespace, in: &state)
        }
    }

    /// A process in `namespace`: `ns/net`, `root` (to the namespace's tree) and its `net/`
    /// tables. With `sysfs` false its mount namespace has none of its own: `root` leads to
    /// this namespace's tree, as for a process that entered the namespace with setns alone.
    @discardableResult
    public func startProcess(_ comm: String, inNetworkNamespace namespace: String, ownSysfs: Bool = true) throws -> Int32 {
        try state.withLock { state throws(SysfsError) in
            if state.host.namespaces[namespace] == nil { try makeNamespace(namespace, in: &state) }
            let pid = state.host.nextPID
            state.host.nextPID += 1
            try start(pid, comm, opening: [], in: &state)
            state.host.namespaces[namespace]!.processes.append(pid)
            let directory = procRoot + "/\(pid)"
            try Tree.link(directory + "/ns/net", to: "net:[\(state.host.namespaces[namespace]!.id)]")
            try Tree.link(directory + "/root", to: ownSysfs ? namespaceRoot(namespace) : root + "/host-root")
            try writeNamespaceFiles(namespace, in: state.host)
            return pid
        }
    }

    private func namespaceRoot(_ namespace: String) -> String { root + "/netns/\(namespace)" }

    private func makeNamespace(_ namespace: String, in state: inout State) throws(SysfsError) {
        state.host.namespaces[namespace] = TestHost.NetworkNamespace(id: state.host.nextNamespace)
        state.host.nextNamespace += 1
        // Every namespace has its own loopback (`net/core/dev.c`, loopback_net_init).
        let sys = namespaceRoot(namespace) + "/sys"
        try Tree.makeDirectories(sys + "/devices/virtual/net/lo")
        try Tree.writeFile(sys + "/devices/virtual/net/lo/flags", "0x9\n")
        try Tree.writeFile(sys + "/devices/virtual/net/lo/ifindex", "1\n")
        try Tree.writeFile(sys + "/devices/virtual/net/lo/iflink", "1\n")
        try Tree.makeDirectories(sys + "/class/net")
        try Tree.link(sys + "/class/net/lo", to: "../../devices/virtual/net/lo")
        // A process without a sysfs of its own sees the host's, through a root like "/".
        try Tree.makeDirectories(root + "/host-root")
        try Tree.link(root + "/host-root/sys", to: sysfsRoot)
    }

    private func add(_ interface: TestHost.Interface, named name: String, to namespace: String, in state: inout State) throws(SysfsError) {
        if state.host.namespaces[namespace] == nil { try makeNamespace(namespace, in: &state) }
        var interface = interface
        // Made in this namespace and moved, as `ip link add ... ; ip link set ... netns`
        // does: its ifindex stays the one it had here (dev_change_net_namespace keeps it
        // when it is free there).
        if interface.ifindex == 0 {
            interface.ifindex = state.host.nextIfindex
            state.host.nextIfindex += 1
        }
        if interface.iflink == 0 || interface.directory.hasPrefix("bus/") { interface.iflink = interface.ifindex }
        state.host.namespaces[namespace]!.interfaces[name] = interface
        state.host.namespaces[namespace]!.order.append(name)
        let sys = namespaceRoot(namespace) + "/sys"
        let directory = sys + "/" + interface.directory
        try Tree.makeDirectories(directory)
        try Tree.writeFile(directory + "/flags", interface.up ? "0x1003\n" : "0x1002\n")
        try Tree.writeFile(directory + "/operstate", interface.up ? "up\n" : "down\n")
        try Tree.writeFile(directory + "/ifindex", "\(interface.ifindex)\n")
        try Tree.writeFile(directory + "/iflink", "\(interface.iflink)\n")
        try Tree.link(sys + "/class/net/\(name)", to: Self.relative(from: sys + "/class/net", to: directory))
        try writeNamespaceFiles(namespace, in: state.host)
    }

    /// Every process of the namespace gets its tables again.
    private func writeNamespaceFiles(_ namespace: String, in host: TestHost) throws(SysfsError) {
        guard let space = host.namespaces[namespace] else { return }
        for pid in space.processes {
            try writeNetFiles(procRoot + "/\(pid)/net", interfaces: space.interfaces, order: space.order)
        }
    }
}
