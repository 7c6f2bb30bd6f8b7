// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "swproxy",
    products: [
        .executable(name: "swproxy", targets: ["swproxy"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "SwproxyHTTP"),
        .target(name: "SwproxyConfig"),
        .target(name: "SwproxyLoop", dependencies: ["CCurl"]),
        .target(name: "SwproxyCurl", dependencies: ["CCurl", "SwproxyLoop"]),
        .target(name: "SwproxyFetch", dependencies: ["CCurl", "SwproxyLoop", "SwproxyCurl", "SwproxyConfig"]),
        .target(name: "SwproxyServe", dependencies: ["CCurl", "SwproxyLoop", "SwproxyCurl", "SwproxyHTTP"]),
        .executableTarget(
            name: "swproxy",
            dependencies: [
                "SwproxyFetch", "SwproxyServe", "SwproxyConfig", "SwproxyLoop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "SwproxyLoopTests", dependencies: ["SwproxyLoop"]),
        .testTarget(name: "SwproxyHTTPTests", dependencies: ["SwproxyHTTP"]),
        .testTarget(name: "SwproxyCurlTests", dependencies: ["SwproxyCurl", "SwproxyLoop"]),
        .testTarget(name: "SwproxyFetchTests", dependencies: ["SwproxyFetch"]),
        .testTarget(name: "SwproxyConfigTests", dependencies: ["SwproxyConfig"]),
    ]
)
