/// Where a request came from, as the journal's REQUEST_ORIGIN says.
public enum RequestOrigin: String, Hashable, Sendable {
    /// `DRIVER_FLAVOUR=` from the driver_flavour attribute (or a udev rule).
    case attribute
    /// `SYNTH_ARG_DRIVERFLAVOUR=` from a synthetic uevent (`echo "change UUID DRIVERFLAVOUR=vfio" > uevent`).
    case synthetic
    /// A standing request, for a device that appeared (`add`).
    case hotplug
    /// A standing request, for a device present at start-up or reload.
    case coldplug
    /// Another member of the IOMMU group of a request made with `group`.
    case group
}
