import Glibc

/// Which netlink group a libudev monitor listens to.
///
/// `udev` hears events after udevd has processed them (rules applied, tags set);
/// with no udevd running that group is silent, so the kernel's own group is the
/// only source that hears anything.
public enum UdevEventSource: String, Sendable, CaseIterable {
    case udev
    case kernel

    /// `udev` when udevd is running (its control socket `<run>/udev/control`
    /// exists), `kernel` otherwise.
    public static func detect(runDirectory: String = "/run") -> UdevEventSource {
        let control = runDirectory.hasSuffix("/") ? runDirectory + "udev/control" : runDirectory + "/udev/control"
        return access(control, F_OK) == 0 ? .udev : .kernel
    }
}
