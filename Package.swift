// swift-tools-version:6.0
import PackageDescription

/// Release builds of the per-request code skip the dynamic exclusivity checks (about 3% of the instructions
/// of a proxied request in callgrind, with their thread-local lookups); debug builds, which the tests use,
/// keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "swproxy",
    products: [
        .executable(name: "swproxy", targets: ["swproxy"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // The C boundary: libcurl for SwproxyCurl only; the Linux calls Glibc lacks for SwproxyLoop only;
        // libcrypt for htpasswd checks in SwproxyServe only.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(name: "CSystem"),
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CDigest", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CTLS", providers: [.apt(["libssl-dev"])]),
        // The executable's start-up before any Swift code runs: argv for the runtime (CStart/start.c).
        .target(name: "CStart"),
        .target(name: "SwproxyHTTP", swiftSettings: hotPath),
        .target(name: "SwproxyConfig"),
        .target(name: "SwproxyLoop", dependencies: ["CSystem"], swiftSettings: hotPath),
        .target(name: "SwproxyCurl", dependencies: ["CCurl", "SwproxyLoop"], swiftSettings: hotPath),
        .target(name: "SwproxyFetch", dependencies: ["CDigest", "SwproxyLoop", "SwproxyCurl", "SwproxyConfig"], swiftSettings: hotPath),
        .target(name: "SwproxyServe", dependencies: ["CCrypt", "CTLS", "CSystem", "SwproxyLoop", "SwproxyCurl", "SwproxyHTTP"], swiftSettings: hotPath),
        .executableTarget(
            name: "swproxy",
            dependencies: [
                "CStart", "SwproxyFetch", "SwproxyServe", "SwproxyConfig", "SwproxyLoop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SwproxyLoopTests", dependencies: ["SwproxyLoop"]),
        .testTarget(name: "SwproxyHTTPTests", dependencies: ["SwproxyHTTP"]),
        .testTarget(name: "SwproxyCurlTests", dependencies: ["SwproxyCurl", "SwproxyLoop"]),
        .testTarget(name: "SwproxyFetchTests", dependencies: ["SwproxyFetch"]),
        .testTarget(name: "SwproxyConfigTests", dependencies: ["SwproxyConfig"]),
        .testTarget(name: "SwproxyServeTests", dependencies: ["SwproxyServe", "SwproxyHTTP", "SwproxyCurl"]),
    ]
)
