// swift-tools-version: 6.0
import PackageDescription

// Layout (../shared/STYLE.md): a pure library for the decisions, one thin Swift
// wrapper target over the C libraries, an engine that does the kernel I/O, and
// thin executables. Nothing but FlavourPlatform imports a C module.
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
        .systemLibrary(name: "CKmod", pkgConfig: "libkmod", providers: [.apt(["libkmod-dev"])]),
        // Fixed-arity C shims for what Swift cannot call (va_list callbacks).
        .target(name: "CFlavourShim", dependencies: ["CKmod"]),

        // Pure: PCI addresses, modaliases, alias patterns, the match table, config, the decision.
        .target(name: "FlavourCore"),
        // Swift types over libudev, libsystemd (journal, notify) and libkmod.
        .target(
            name: "FlavourPlatform",
            dependencies: [
                "CUdev", "CSystemd", "CKmod", "CFlavourShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Kernel I/O: sysfs, PCI devices, the binder. Module loading is a protocol here;
        // its libkmod conformance is wired in by FlavourDaemon.
        .target(
            name: "FlavourEngine",
            dependencies: [
                "FlavourCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A simulated kernel behind a temporary sysfs tree, for tests and benchmarks.
        .target(
            name: "FlavourTestKernel",
            dependencies: ["FlavourCore", "FlavourEngine", "FlavourDaemon", .product(name: "Logging", package: "swift-log")]
        ),
        // The daemon's services: event intake, scheduling, outcomes.
        .target(
            name: "FlavourDaemon",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourPlatform",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // flavourctl's command tree, as a library so tests can run it in-process.
        .target(
            name: "FlavourCLI",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "flavourd",
            dependencies: [
                "FlavourDaemon", "FlavourPlatform", "FlavourEngine",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "flavourctl",
            dependencies: ["FlavourCLI", "FlavourPlatform", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "flavour-bench",
            dependencies: ["FlavourCore", "FlavourEngine", "FlavourTestKernel", "FlavourDaemon", "FlavourPlatform"]
        ),

        .executableTarget(
            name: "flavourd-bench",
            dependencies: [
                "FlavourCore", "FlavourEngine", "FlavourTestKernel", "FlavourDaemon", "FlavourPlatform",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "FlavourCoreTests", dependencies: ["FlavourCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FlavourPlatformTests", dependencies: ["FlavourPlatform", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "FlavourEngineTests", dependencies: ["FlavourEngine", "FlavourTestKernel", "FlavourCore"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "FlavourDaemonTests", dependencies: ["FlavourDaemon", "FlavourTestKernel", "FlavourEngine", "FlavourCore"]),
        .testTarget(name: "FlavourCLITests", dependencies: ["FlavourCLI", "FlavourTestKernel", "FlavourEngine"]),
    ],
    swiftLanguageModes: [.v6]
)
