/// A modules tree of the same shape as Debian 6.12's, for machines without the fetched
/// kernel: 9,566 `pci:` aliases (most `v..d..sv*sd*bc*sc*i*`, some with subsystem ids,
/// 100 class matches), ~17,900 aliases of other buses, a few `vfio_pci:` aliases including
/// the universal one, and a few built-in pci aliases.
///
/// Preferred: minimal `.ko` files (ElfModule) plus `modules.builtin.modinfo`, run through
/// the real `depmod -b`, so libkmod gets its binary indexes exactly as on a real system.
/// Fallback when depmod is missing or fails: the text `modules.alias` only, which libkmod
/// then reads as a configuration file (`kmod_new(dir, [file])`), a slower path for it.
struct GeneratedTree {
    enum Mode: String {
        /// depmod built modules.alias, modules.alias.bin and modules.builtin.alias.bin.
        case depmod
        /// Only the text file; libkmod reads it as config `alias` lines.
        case textAsConfig = "text-as-config"
    }

    let base: String
    let modulesDirectory: String
    let mode: Mode
    /// Why depmod was not used, when it was not.
    let note: String?

    static let version = "0.0.0-flavour-bench"
    static let pciLines = 9566
    static let totalLines = 27460

    static func make() throws(HostFiles.Failure) -> GeneratedTree {
        let base = try HostFiles.makeTemporaryDirectory()
        let modules = base + "/lib/modules/" + version
        let plan = Plan.make()
        try HostFiles.makeDirectories(modules + "/kernel/drivers/bench")

        var order: [UInt8] = []
        for module in plan.modules {
            let relative = "kernel/drivers/bench/\(module.name).ko"
            let info = ["license=GPL", "description=flavour-bench generated module"]
                + module.aliases.map { "alias=" + $0 } + ["depends=", "name=\(module.name)"]
            try HostFiles.write(ElfModule.object(modinfo: info), to: modules + "/" + relative)
            order += Array((relative + "\n").utf8)
        }
        try HostFiles.write(order, to: modules + "/modules.order")
        var builtin: [UInt8] = []
        for (module, alias) in plan.builtin { builtin += Array("\(module).alias=\(alias)".utf8) + [0] }
        try HostFiles.write(builtin, to: modules + "/modules.builtin.modinfo")
        try HostFiles.write(Array(plan.builtin.map { "kernel/drivers/bench/\($0.module).ko\n" }.joined().utf8),
                            to: modules + "/modules.builtin")

        var note: String? = nil
        if let depmod = HostFiles.executable("depmod") {
            let status = HostFiles.run([depmod, "-b", base, version])
            if status == 0, HostFiles.isFile(modules + "/modules.alias.bin"), HostFiles.isFile(modules + "/modules.alias") {
                return GeneratedTree(base: base, modulesDirectory: modules, mode: .depmod, note: nil)
            }
            note = "depmod -b exited with \(status)"
        } else {
            note = "depmod not found"
        }
        // Text only, in the order depmod would write it (modules.order), builtins absent.
        var text: [UInt8] = Array("# Aliases extracted from modules themselves.\n".utf8)
        for module in plan.modules {
            for alias in module.aliases { text += Array("alias \(alias) \(module.name)\n".utf8) }
        }
        try HostFiles.write(text, to: modules + "/modules.alias")
        return GeneratedTree(base: base, modulesDirectory: modules, mode: .textAsConfig, note: note)
    }

    /// The aliases of every generated module, in modules.order.
    struct Plan {
        var modules: [(name: String, aliases: [String])] = []
        var builtin: [(module: String, alias: String)] = []

        static func make() -> Plan {
            var random = SplitMix(state: 0x6_12_0_9566)
            func hex(_ value: UInt64, _ width: Int) -> String {
                let digits = String(value, radix: 16, uppercase: true)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            func id(_ random: inout SplitMix) -> UInt64 { random.next() & 0xFFFF }
            let vendors: [UInt64] = (0..<400).map { _ in id(&random) } + [0x8086, 0x10DE, 0x1022, 0x14E4, 0x15B3, 0x1AF4]

            // pci: 100 class matches, ~1,850 with subsystem ids, the rest vendor/device.
            var pci: [String] = []
            for _ in 0..<100 {
                pci.append("pci:v*d*sv*sd*bc\(hex(random.next() % 0x13, 2))sc\(hex(random.next() % 0x10, 2))i\(hex(random.next() % 0x40, 2))*")
            }
            for _ in 0..<1850 {
                let vendor = vendors[Int(random.next() % UInt64(vendors.count))]
                pci.append("pci:v\(hex(vendor, 8))d\(hex(id(&random), 8))sv\(hex(vendors[Int(random.next() % 64)], 8))sd\(hex(id(&random), 8))bc*sc*i*")
            }
            while pci.count < GeneratedTree.pciLines {
                let vendor = vendors[Int(random.next() % UInt64(vendors.count))]
                pci.append("pci:v\(hex(vendor, 8))d\(hex(id(&random), 8))sv*sd*bc*sc*i*")
            }
            pci.shuffle(using: &random)

            var plan = Plan()
            var serial = 0
            func addModules(_ aliases: [String], bus: String, maxPerModule: UInt64) {
                var rest = aliases[...]
                while !rest.isEmpty {
                    let size = Int(1 + random.next() % maxPerModule)
                    serial += 1
                    plan.modules.append(("bench_\(bus)_\(serial)", Array(rest.prefix(size))))
                    rest = rest.dropFirst(size)
                }
            }
            addModules(pci, bus: "pci", maxPerModule: 12)

            // vfio_pci: the universal driver and real variant drivers' ids (KERNEL-FACTS.md).
            plan.modules.append(("vfio_pci", ["vfio_pci:v*d*sv*sd*bc*sc*i*"]))
            plan.modules.append(("mlx5_vfio_pci", ["vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"]))
            plan.modules.append(("virtio_vfio_pci", ["vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i*",
                                                      "vfio_pci:v00001AF4d00001042sv*sd*bc*sc*i*"]))
            plan.modules.append(("nvgrace_gpu_vfio_pci", ["vfio_pci:v000010DEd00002342sv*sd*bc*sc*i*"]))

            // Other buses, to the real file's total.
            var other: [String] = []
            let used = GeneratedTree.pciLines + 5
            while other.count < GeneratedTree.totalLines - used - 1 {
                switch random.next() % 10 {
                case 0...4:
                    other.append("usb:v\(hex(id(&random), 4))p\(hex(id(&random), 4))d*dc*dsc*dp*ic*isc*ip*in*")
                case 5, 6:
                    other.append("of:N*T*Cvendor\(random.next() % 5000),device\(random.next() % 100)C*")
                case 7:
                    other.append("acpi*:BNCH\(hex(random.next() % 0xFFFF, 4)):*")
                case 8:
                    other.append("i2c:sensor\(random.next() % 100000)")
                default:
                    other.append("hid:b0003g*v\(hex(id(&random), 8))p\(hex(id(&random), 8))")
                }
            }
            addModules(other, bus: "misc", maxPerModule: 20)

            // Built-in drivers' aliases (modules.builtin.alias.bin), one of them a class match.
            plan.builtin = [
                ("bench_builtin_ehci", "pci:v*d*sv*sd*bc0Csc03i20*"),
                ("bench_builtin_vmd", "pci:v00008086d0000201Dsv*sd*bc*sc*i*"),
            ]
            return plan
        }
    }
}
