/// How a request may treat the host and the device's IOMMU group: `force` takes a device
/// the in-use guard refuses (the override is logged); `group` takes every member of the
/// device's IOMMU group along, or none of them.
public struct RequestOptions: Hashable, Sendable {
    public var force = false
    public var group = false

    public init(force: Bool = false, group: Bool = false) {
        self.force = force
        self.group = group
    }

    /// The words a `request` line may end with, in the config's spelling.
    public static let keywords = ["force", "group"]

    /// The options as config words (`force group`), empty when none is set.
    public var words: [String] {
        (force ? ["force"] : []) + (group ? ["group"] : [])
    }
}
