import CFlavourShim
import Glibc

/// A socket's classic BPF filter (socket(7): SO_ATTACH_FILTER, SO_GET_FILTER).
public enum SocketFilter {
    /// The program attached to `descriptor`: empty when there is none, a failure with the errno
    /// when it cannot be read.
    public static func attached(to descriptor: Int32) -> Result<[UeventActionFilter.Instruction], UdevError> {
        // SO_GET_FILTER's length is in instructions, not bytes (net/core/filter.c, sk_get_filter).
        var count = socklen_t(0)
        guard getsockopt(descriptor, SOL_SOCKET, SO_GET_FILTER, nil, &count) == 0 else {
            return .failure(UdevError(operation: "getsockopt", argument: "SO_GET_FILTER", errno: errno))
        }
        guard count > 0 else { return .success([]) }
        var raw = [sock_filter](repeating: sock_filter(), count: Int(count))
        guard getsockopt(descriptor, SOL_SOCKET, SO_GET_FILTER, &raw, &count) == 0 else {
            return .failure(UdevError(operation: "getsockopt", argument: "SO_GET_FILTER", errno: errno))
        }
        return .success(raw.prefix(Int(count)).map { .init(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) })
    }

    /// Attaches `program` to `descriptor`, replacing the one it had; the kernel checks it.
    public static func attach(_ program: [UeventActionFilter.Instruction], to descriptor: Int32) -> UdevError? {
        var raw = program.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        let result = raw.withUnsafeMutableBufferPointer { buffer in
            var fprog = sock_fprog(len: UInt16(buffer.count), filter: buffer.baseAddress)
            return setsockopt(descriptor, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, socklen_t(MemoryLayout<sock_fprog>.size))
        }
        return result == 0 ? nil : UdevError(operation: "setsockopt", argument: "SO_ATTACH_FILTER, \(program.count) instructions", errno: errno)
    }

    /// Puts `UeventActionFilter`'s checks in front of the program libudev attached to a
    /// monitor's socket (or none, on the kernel's group). Nil when done.
    public static func dropOtherActions(_ actions: Set<String>, pciFunctionsOnly: Bool, on descriptor: Int32) -> UdevError? {
        let rest: [UeventActionFilter.Instruction]
        switch attached(to: descriptor) {
        case .success(let program): rest = program
        case .failure(let error): return error
        }
        guard let program = UeventActionFilter.program(actions: actions, pciFunctionsOnly: pciFunctionsOnly, before: rest) else {
            return UdevError(operation: "UeventActionFilter", argument: "actions \(actions.sorted().joined(separator: ","))", errno: EINVAL)
        }
        return attach(program, to: descriptor)
    }
}
