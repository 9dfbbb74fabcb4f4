import FlavourCore

/// A kernel module the simulated kernel can load: it registers one PCI driver whose
/// name need not be the module's (`vfio_pci` registers `vfio-pci`).
public struct TestModule: Sendable {
    public var name: ModuleName
    public var driver: String
    public var ids: [TestPCIID]
    /// Built into the kernel: loaded from the start, its aliases in modules.builtin.alias.bin.
    public var builtin: Bool
    /// False for a module that loads but registers no PCI driver (a library, a mistake in
    /// an admin's variant line): nothing appears under `/sys/module/<m>/drivers`.
    public var registersPCIDriver: Bool
    /// Built on vfio_pci_core: a device it probes is registered with VFIO (`vfio-dev/vfioN`).
    /// By default, a module whose ids are `override_only` (vfio_pci and the variant drivers).
    public var registersWithVFIO: Bool

    public init(
        _ name: String, driver: String, ids: [TestPCIID], builtin: Bool = false, registersPCIDriver: Bool = true,
        registersWithVFIO: Bool? = nil
    ) {
        self.name = ModuleName(name)!
        self.driver = driver
        self.ids = ids
        self.builtin = builtin
        self.registersPCIDriver = registersPCIDriver
        self.registersWithVFIO = registersWithVFIO ?? ids.contains(where: \.overrideOnly)
    }

    /// `vfio_pci`: driver `vfio-pci`, matches any device but only through driver_override
    /// (its table is `PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID)`).
    public static let vfioPCI = TestModule("vfio_pci", driver: "vfio-pci", ids: [TestPCIID(vendor: nil, device: nil, overrideOnly: true)])
    /// Registers its PCI driver as `virtio_vfio_pci` (KBUILD_MODNAME), as the real one does.
    public static let virtioVFIOPCI = TestModule(
        "virtio_vfio_pci", driver: "virtio_vfio_pci", ids: [.vfio(0x1AF4, 0x1041), .vfio(0x1AF4, 0x1042)])
    public static let virtioPCI = TestModule(
        "virtio_pci", driver: "virtio-pci", ids: [TestPCIID(vendor: 0x1AF4, device: nil)])
    public static let e1000e = TestModule("e1000e", driver: "e1000e", ids: [TestPCIID(vendor: 0x8086, device: 0x10D3)])
    /// An Intel PCH's LPC/ISA bridge driver: it keeps the kernel's DMA domain, so it blocks
    /// its IOMMU group from VFIO although its device is a bridge.
    public static let lpcICH = TestModule("lpc_ich", driver: "lpc_ich", ids: [TestPCIID(vendor: 0x8086, device: 0xA1C8)])
    public static let nvme = TestModule(
        "nvme", driver: "nvme", ids: [TestPCIID(vendor: nil, device: nil, classMatch: (0x010802, 0xFFFFFF))])
    public static let mlx5Core = TestModule("mlx5_core", driver: "mlx5_core", ids: [TestPCIID(vendor: 0x15B3, device: 0x101E)])
    public static let mlx5VFIOPCI = TestModule("mlx5_vfio_pci", driver: "mlx5_vfio_pci", ids: [.vfio(0x15B3, 0x101E)])
    public static let nvgraceGPUVFIOPCI = TestModule(
        "nvgrace_gpu_vfio_pci", driver: "nvgrace-gpu-vfio-pci", ids: [.vfio(0x10DE, 0x2342)])
}
