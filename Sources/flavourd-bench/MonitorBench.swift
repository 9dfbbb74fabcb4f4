import FlavourCore
import FlavourPlatform

#if canImport(Glibc)
import Glibc
#endif

/// The libudev monitor's CPU per event, on real uevents from this machine's kernel without
/// touching its devices: in a private network namespace (run the bench under `unshare -n`,
/// as root), tun devices are made,
/// renamed and removed (`add`, `move`, `remove`: the `move` stands for the bind and unbind
/// echoes flavourd never acts on). Three monitors hear the same events: one copies every event
/// whole, one filters as flavourd's source does (only `UeventRequest.actions`, dropped in the
/// kernel by its socket filter, and only `UeventRequest.keys`), and one is flavourd's own PCI
/// monitor of the kernel's group, for which a tun device, like a container's veth, is a virtual
/// device its socket filter drops. Nil when no private network namespace can be had.
struct MonitorBench {
    let events: Int
    /// Receiving thread's CPU, nanoseconds per event heard, for each monitor.
    let whole: Double
    let filtered: Double
    let pci: Double

    static func run(cycles: Int) -> MonitorBench? {
        guard inPrivateNetworkNamespace() else { return nil }
        guard let whole = try? UdevMonitor(source: .kernel, subsystem: "net"),
              let filtered = try? UdevMonitor(
                  source: .kernel, subsystem: "net", actions: UeventRequest.actions, keys: UeventRequest.keys),
              let pci = try? UdevMonitor(
                  source: .kernel, subsystem: "pci", actions: UeventRequest.actions, keys: UeventRequest.keys, pciFunctionsOnly: true)
        else { return nil }
        for index in 0..<cycles where !flash(index) { return nil }
        func drain(_ monitor: UdevMonitor) -> Double {
            let start = threadCPU()
            var received = 0
            while monitor.wait(timeoutMilliseconds: 100) {
                while case .event = monitor.receive() { received += 1 }
            }
            return Double(threadCPU() - start) / Double(3 * cycles)
        }
        return MonitorBench(events: 3 * cycles, whole: drain(whole), filtered: drain(filtered), pci: drain(pci))
    }

    /// A tun device made (TUNSETIFF), renamed while down (SIOCSIFNAME) and removed (close).
    private static func flash(_ index: Int) -> Bool {
        let tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard tun >= 0 else { return false }
        defer { close(tun) }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { $0.copyBytes(from: Array("flb\(index)".utf8) + [0]) }
        request.ifr_ifru.ifru_flags = 0x0001 | 0x1000  // IFF_TUN | IFF_NO_PI (linux/if_tun.h)
        guard ioctl(tun, UInt(0x4004_54CA) /* TUNSETIFF */, &request) == 0 else { return false }
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(sock) }
        var rename = ifreq()
        withUnsafeMutableBytes(of: &rename.ifr_ifrn.ifrn_name) { $0.copyBytes(from: Array("flb\(index)".utf8) + [0]) }
        withUnsafeMutableBytes(of: &rename.ifr_ifru.ifru_newname) { $0.copyBytes(from: Array("flm\(index)".utf8) + [0]) }
        return ioctl(sock, UInt(SIOCSIFNAME), &rename) == 0
    }

    /// Whether this process's network namespace is a fresh one, with the loopback interface
    /// only (`/proc/self/net/dev`): the tun devices must never appear among the machine's own.
    private static func inPrivateNetworkNamespace() -> Bool {
        let descriptor = open("/proc/self/net/dev", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return false }
        let lines = String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").dropFirst(2)
        return lines.map { $0.split(separator: ":").first?.trimmingCharacters(in: " ") ?? "" } == ["lo"]
    }

    private static func threadCPU() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
