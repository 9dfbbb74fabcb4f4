// swift-tools-version: 6.0
import PackageDescription

// Layout (../shared/STYLE.md): a pure library for the decisions, an engine that does the
// kernel I/O behind protocols, one thin Swift wrapper target over the C libraries, the
// production conformances joining the two, and thin executables that wire them in.
// Nothing but FlavourPlatform imports a C module; dependencies point one way:
//   FlavourCore <- FlavourEngine <- FlavourSystem -> FlavourPlatform, both over FlavourPOSIX
//   FlavourEngine <- FlavourDaemon, FlavourCLI, FlavourTestKernel (none of them over a C library)
//   executables: the daemon or the CLI, plus FlavourSystem.
let package = Package(
    name: "driver-flavour",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flavourd", targets: ["flavourd"]),
        .executable(name: "flavourctl", targets: ["flavourctl"]),
        .executable(name: "flavour-bench", targets: ["flavour-bench"]),
        .executable(name: "flavourd-bench", targets: ["flavourd-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries, each wrapped once in FlavourPlatform.
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // libkmod's header only: the library itself is opened with dlopen on first use.
        .systemLibrary(name: "CKmod", providers: [.apt(["libkmod-dev"])]),
        // Fixed-arity C shims for what Swift cannot call (va_list callbacks).
        .target(name: "CFlavourShim", dependencies: ["CKmod"]),

        // Pure: PCI addresses, modaliases, alias patterns, the match table, config, the decision.
        .target(name: "FlavourCore"),
        // How a system call is made, once for everyone: EINTR retried, errno named and
        // explained; pthreads and a condition variable for the threads that block in the kernel.
        .target(name: "FlavourPOSIX"),
        // Kernel I/O: sysfs, PCI devices, the binder, the crash journal. The world it cannot
        // reach without C libraries is a protocol here (SysfsWriter, ModuleLoader,
        // DeviceEventSource, DaemonNotifier); FlavourSystem conforms to them.
        .target(
            name: "FlavourEngine",
            dependencies: [
                "FlavourCore", "FlavourPOSIX",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Swift types over libudev, libsystemd (journal, notify) and libkmod.
        .target(
            name: "FlavourPlatform",
            dependencies: [
                "CUdev", "CSystemd", "CKmod", "CFlavourShim", "FlavourPOSIX",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The production conformances of the engine's protocols over FlavourPlatform: the
        // confined sysfs writer, libkmod loading, sd_notify, the libudev event source.
        .target(
            name: "FlavourSystem",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourPlatform", "FlavourPOSIX",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A simulated kernel behind a temporary sysfs tree, for tests and benchmarks.
        .target(
            name: "FlavourTestKernel",
            dependencies: ["FlavourCore", "FlavourEngine"]
        ),
        // The daemon's services: event intake, scheduling, outcomes.
        .target(
            name: "FlavourDaemon",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourPOSIX",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // flavourctl's command tree, as a library so tests can run it in-process.
        .target(
            name: "FlavourCLI",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourPOSIX",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Thin executables: they wire FlavourSystem's conformances into the daemon and the CLI.
        .executableTarget(
            name: "flavourd",
            dependencies: [
                "FlavourDaemon", "FlavourSystem", "FlavourPlatform", "FlavourEngine",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "flavourctl",
            dependencies: [
                "FlavourCLI", "FlavourSystem", "FlavourPlatform", "FlavourEngine", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "flavour-bench",
            dependencies: ["FlavourCore", "FlavourEngine", "FlavourPlatform", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "flavourd-bench",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourTestKernel", "FlavourDaemon", "FlavourPlatform",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "FlavourCoreTests", dependencies: ["FlavourCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FlavourPOSIXTests", dependencies: ["FlavourPOSIX"]),
        .testTarget(
            name: "FlavourPlatformTests",
            dependencies: [
                "FlavourPlatform", .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]),
        .testTarget(
            name: "FlavourEngineTests",
            dependencies: [
                "FlavourEngine", "FlavourTestKernel", "FlavourCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "FlavourSystemTests", dependencies: ["FlavourSystem", "FlavourEngine", "FlavourTestKernel", "FlavourCore", "FlavourPOSIX", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "FlavourDaemonTests",
            dependencies: [
                "FlavourDaemon", "FlavourTestKernel", "FlavourEngine", "FlavourCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]),
        .testTarget(
            name: "FlavourCLITests", dependencies: ["FlavourCLI", "FlavourDaemon", "FlavourTestKernel", "FlavourEngine", "FlavourCore"]),
    ],
    swiftLanguageModes: [.v6]
)
