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

    /// Where udevd reads rules from (udev(7)), highest priority first.
    public static let rulesDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d",
                                          "/usr/lib/udev/rules.d", "/lib/udev/rules.d"]

    /// The first rules file called `name` udevd would read, or nil: without the project's
    /// rules nobody tags the events, and a monitor filtered by tag hears nothing at all.
    public static func installedRules(named name: String, in directories: [String] = rulesDirectories) -> String? {
        directories.lazy.map { $0 + "/" + name }.first { access($0, R_OK) == 0 }
    }
}
