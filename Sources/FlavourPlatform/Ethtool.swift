import CFlavourShim

/// What ethtool's ioctl says about a network interface.
public enum Ethtool {
    /// The interface's driver (`e1000e`, `openvswitch`), nil when it cannot be asked.
    public static func driver(ofInterface name: String) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 33) { buffer in
            guard flavour_ethtool_driver(name, buffer.baseAddress, buffer.count) == 0 else { return nil }
            let text = String(cString: buffer.baseAddress!)
            return text.isEmpty ? nil : text
        }
    }
}
