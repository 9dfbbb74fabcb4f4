/// Active swap areas from `/proc/swaps` (`mm/swapfile.c`, swap_show: a header line,
/// then `Filename Type Size Used Priority`, the file name escaped like a mount point).
public struct SwapList: Hashable, Sendable {
    public let files: [String]

    public init(files: [String]) { self.files = files }

    public static func parse(swaps text: String) -> SwapList {
        SwapList(files: text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line in
            line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(ProcText.unescape)
        })
    }

    /// Whether the block device with this devnode name is a swap area.
    public func contains(device name: String) -> Bool { files.contains("/dev/" + name) }
}
