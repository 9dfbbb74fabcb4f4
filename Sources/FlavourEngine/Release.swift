/// The release this code is: the version of debian/changelog's first entry (a unit test holds
/// the two together; `scripts/package --version` rewrites both in its build copy). flavourd
/// publishes it as `driver_flavour_info{version=...}`.
public enum Release {
    public static let version = "0.1.0"
}
