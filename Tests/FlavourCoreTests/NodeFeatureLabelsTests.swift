import Testing
@testable import FlavourCore

/// The labels of the node-feature-discovery feature file, and Kubernetes' rules for them.
@Suite struct NodeFeatureLabelsTests {
    typealias Device = NodeFeatureLabels.Device

    @Test func countsDevicesPerIDAndSaysWhetherAVariantDrivesOne() {
        let labels = NodeFeatureLabels(devices: [
            Device(vendor: 0x15B3, device: 0x101E, variant: false), Device(vendor: 0x15B3, device: 0x101E, variant: true),
            Device(vendor: 0x1AF4, device: 0x1041, variant: false),
        ], vfioReady: true)
        #expect(labels.fileText == """
            # Devices in VFIO mode on this host: written by flavourd(8) when they change (driver-flavour).
            feature.node.kubernetes.io/driver-flavour.vfio-ready=true
            feature.node.kubernetes.io/driver-flavour.vfio-15b3_101e.count=2
            feature.node.kubernetes.io/driver-flavour.vfio-15b3_101e.variant=true
            feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.count=1
            feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.variant=false

            """)
        for label in labels.labels {
            #expect(NodeFeatureLabels.isValidName(label.name), "\(label.name)")
            #expect(NodeFeatureLabels.isValidValue(label.value), "\(label.value)")
        }
    }

    /// Whether the host is ready is always said; with no device in VFIO mode, only that.
    @Test func readyIsAlwaysSaid() {
        let blocked = NodeFeatureLabels(devices: [Device(vendor: 0x8086, device: 0x10D3, variant: false)], vfioReady: false)
        #expect(blocked.labels.first == .init(name: "feature.node.kubernetes.io/driver-flavour.vfio-ready", value: "false"))
        #expect(NodeFeatureLabels(devices: [], vfioReady: false).labels.map(\.value) == ["false"])
    }

    /// NFD reads `# +name` as a directive and warns about unknown ones: the header is a plain comment.
    @Test func theFileHasNoDirective() {
        let text = NodeFeatureLabels(devices: [], vfioReady: false).fileText
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("# +") })
        #expect(text.utf8.count < 65536)  // NFD ignores larger files
    }

    @Test(arguments: [
        ("feature.node.kubernetes.io/driver-flavour.vfio-ready", true), ("plain-name", true), ("a", true),
        ("feature.node.kubernetes.io/", false), ("/name", false), ("-name", false), ("name-", false),
        ("Feature.example.com/x", false), ("example..com/x", false), ("a/b/c", false), ("a b", false),
        ("x/" + String(repeating: "n", count: 63), true), ("x/" + String(repeating: "n", count: 64), false),
    ])
    func labelNames(name: String, valid: Bool) {
        #expect(NodeFeatureLabels.isValidName(name) == valid)
    }

    @Test(arguments: [("", true), ("true", true), ("1000", true), ("mlx5_vfio_pci", true), ("a.b-c", true),
                      ("-x", false), ("x_", false), ("a b", false), (String(repeating: "1", count: 64), false)])
    func labelValues(value: String, valid: Bool) {
        #expect(NodeFeatureLabels.isValidValue(value) == valid)
    }
}
