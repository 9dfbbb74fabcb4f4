import Foundation
import Glibc

/// An AF_UNIX datagram socket bound in a fresh temporary directory, standing in for
/// journald's and systemd's sockets. Receives descriptors (SCM_RIGHTS) too: libsystemd
/// sends an entry too large for one datagram as a sealed memfd.
final class DatagramListener {
    let directory: String
    let path: String
    private let descriptor: Int32
    /// How many datagrams carried a descriptor instead of the payload.
    private(set) var receivedDescriptors = 0

    init(socketName: String) throws {
        var template = Array((NSTemporaryDirectory() + "flavour-platform-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        directory = String(cString: made)
        path = directory + "/" + socketName

        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var size: Int32 = 8 * 1024 * 1024
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            precondition(bytes.count < raw.count, "socket path too long: \(path)")
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        chmod(path, 0o666)
    }

    deinit {
        close(descriptor)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every datagram queued now (the sender has finished), payloads of memfds inlined.
    func drain() throws -> [[UInt8]] {
        var messages: [[UInt8]] = []
        while let message = try receive(timeoutMilliseconds: 0) {
            messages.append(message)
        }
        return messages
    }

    /// One datagram, or nil when none arrives within the timeout.
    func receive(timeoutMilliseconds: Int32) throws -> [UInt8]? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, timeoutMilliseconds) > 0 else { return nil }

        var buffer = [UInt8](repeating: 0, count: 4 * 1024 * 1024)
        var control = [UInt8](repeating: 0, count: 256)
        let (count, received): (Int, Int32?) = buffer.withUnsafeMutableBytes { bytes in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBytes.baseAddress
                    header.msg_controllen = controlBytes.count
                    let count = recvmsg(descriptor, &header, Int32(MSG_CMSG_CLOEXEC))
                    return (count, count >= 0 ? Self.passedDescriptor(header) : nil)
                }
            }
        }
        guard count >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        if let received {
            defer { close(received) }
            receivedDescriptors += 1
            return try Self.readAll(received)
        }
        return Array(buffer[..<count])
    }

    private static func passedDescriptor(_ header: msghdr) -> Int32? {
        guard header.msg_controllen >= MemoryLayout<cmsghdr>.size, let control = header.msg_control else { return nil }
        let message = control.load(as: cmsghdr.self)
        guard message.cmsg_level == SOL_SOCKET, message.cmsg_type == Int32(SCM_RIGHTS) else { return nil }
        return control.load(fromByteOffset: MemoryLayout<cmsghdr>.size, as: Int32.self)
    }

    private static func readAll(_ descriptor: Int32) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            guard count >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            if count == 0 { return result }
            result += chunk[..<count]
            offset += off_t(count)
        }
    }
}
