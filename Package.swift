// swift-tools-version:6.0
import Foundation
import PackageDescription

// Numeric kernels run without overflow and bounds checks in release builds (the
// code that calls them validates shapes first), and are compiled for a CPU with
// AVX2 and FMA ("haswell": any x86-64 CPU since 2013) so that LLVM vectorises their loops 8
// floats wide. DRIFTLESS_TARGET_CPU overrides it (e.g. "x86-64" for older CPUs,
// "native"); OpenBLAS picks its own kernels at run time either way.
let targetCPU = ProcessInfo.processInfo.environment["DRIFTLESS_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let cpuFlags = targetCPU.isEmpty ? [] : ["-target-cpu", targetCPU]
// The C kernels get the same instruction set (F16C and FMA come with "haswell").
let cKernelFlags = targetCPU.isEmpty ? ["-O3"] : ["-O3", "-march=\(targetCPU)"]
#else
let cpuFlags: [String] = []
let cKernelFlags = ["-O3"]
#endif
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"] + cpuFlags, .when(configuration: .release))
]

let package = Package(
    name: "Driftless",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "worker", targets: ["WorkerCLI"]),
        .executable(name: "coord", targets: ["CoordCLI"]),
        .library(name: "Embedding", targets: ["Embedding"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // C shims: a module map and a one-line header each. Only the wrapper
        // module named beside each one imports it.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CLibZMQ", path: "Sources/CLibZMQ"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),

        .target(name: "LinearAlgebra", dependencies: ["COpenBLAS", "CSkinnyGemm"], swiftSettings: numericSettings),
        // Products with few rows (one search query) that read the weights once, packing nothing.
        .target(name: "CSkinnyGemm", cSettings: [.unsafeFlags(cKernelFlags, .when(configuration: .release))]),
        // Half-precision matrix–vector products for serving projections (F16C + FMA intrinsics).
        .target(name: "CHalfKernel", cSettings: [.unsafeFlags(cKernelFlags, .when(configuration: .release))]),
        // bfloat16 and int8 products over oneDNN (Debian's libdnnl), and the conversions around them.
        .target(
            name: "CLowPrecision",
            cSettings: [.unsafeFlags(cKernelFlags, .when(configuration: .release))],
            linkerSettings: [.linkedLibrary("dnnl")]
        ),
        .target(
            name: "LowPrecision",
            dependencies: ["CLowPrecision", "LinearAlgebra"],
            swiftSettings: numericSettings
        ),
        .target(name: "ZeroMQ", dependencies: ["CLibZMQ"]),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),

        .target(
            name: "Embedding",
            dependencies: [
                "LinearAlgebra", "LowPrecision",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: numericSettings
        ),
        .target(name: "Corpus"),
        .target(name: "JobStates"),
        .target(name: "Retrieval", dependencies: ["Corpus"]),
        .target(name: "Compat", dependencies: ["LinearAlgebra", "CHalfKernel"], swiftSettings: numericSettings),
        .target(
            name: "Search",
            dependencies: ["Store", "Embedding", "Retrieval", "Corpus", "PostgresClient", "Compat"]
        ),
        .target(
            name: "Upgrade",
            dependencies: ["Search", "Store", "Compat", "Retrieval", "PostgresClient"]
        ),
        .target(
            name: "Store",
            dependencies: [
                "PostgresClient", "Retrieval", "JobStates", "Corpus",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Wire", dependencies: ["ZeroMQ", "JobStates", "Corpus"]),
        .target(
            name: "Telemetry",
            dependencies: [
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                // The metrics endpoint: an HTTP server with limits, stopped through a service group.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "Store", "Wire", "ZeroMQ", "PostgresClient", "Embedding", "Corpus", "Telemetry", "JobStates",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Worker",
            dependencies: [
                "Embedding", "Corpus", "LinearAlgebra", "Store", "Wire", "ZeroMQ", "PostgresClient", "Telemetry",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "WorkerCLI",
            dependencies: [
                "Worker", "Embedding", "LinearAlgebra", "ZeroMQ", "PostgresClient", "Telemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // `coord api`: the HTTP search service and its status page, on Hummingbird.
        .target(
            name: "SearchService",
            dependencies: [
                "Search", "Store", "Wire", "PostgresClient", "Embedding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "CoordCLI",
            dependencies: [
                "Coordinator", "Wire", "Store", "PostgresClient", "Corpus", "Telemetry", "Search", "Retrieval",
                "Compat", "LinearAlgebra", "Upgrade", "JobStates", "SearchService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Paths, temporary files and the `worker` process, shared by the test targets.
        .target(name: "DriftlessTestSupport", dependencies: ["PostgresClient"], path: "Tests/TestSupport"),
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(name: "EmbeddingTests", dependencies: ["Embedding", "LinearAlgebra", "DriftlessTestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Embedding", "Corpus", "DriftlessTestSupport"]),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["Coordinator", "Store", "Wire", "JobStates", "ZeroMQ", "Corpus"]
        ),
        .testTarget(name: "WireTests", dependencies: ["Wire", "ZeroMQ", "Corpus"]),
        .testTarget(name: "RetrievalTests", dependencies: ["Retrieval", "DriftlessTestSupport"]),
        .testTarget(name: "CompatTests", dependencies: ["Compat", "LinearAlgebra"]),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry", .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Inputs of the fuzz targets (Tests/Fuzz, run by Ops/fuzz.sh) kept as regressions.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["Wire", "Corpus", "Retrieval", "Embedding"]),
        // Real PostgreSQL, real sockets, real `coord` and `worker` processes.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DriftlessTestSupport", "Embedding", "Store", "Wire", "ZeroMQ", "PostgresClient", "Search", "Retrieval",
                "Compat", "Upgrade", "Corpus", "SearchService",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
