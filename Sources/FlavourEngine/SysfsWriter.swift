/// Where a sysfs write goes: the real kernel, or a simulated one in tests. Reads always
/// go to the files under the root, so the read path is the same code everywhere.
public protocol SysfsWriter: Sendable {
    /// Writes `value` to the attribute at the absolute `path`; throws the kernel's errno.
    func write(_ value: String, to path: String) throws(SysfsError)
    /// Told of each read-side operation (`Sysfs` and the in-use guard), so that the test
    /// kernel can count them for the benchmark; the real kernel's writer ignores it.
    func accessed(_ access: SysfsAccess)
}

extension SysfsWriter {
    public func accessed(_ access: SysfsAccess) {}
}
