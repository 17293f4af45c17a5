// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "otpgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "otpgate", targets: ["otpgate"]),
        .library(name: "OTPGateServer", targets: ["OTPGateServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Each module has one reason to change; the comment lists what it may import (docs/ARCHITECTURE.md).

        // The kernel's CSPRNG in bulk (`getrandom`, which Swift's Glibc module does not export).
        .target(name: "CSystemRandom"),
        // The engine: domain types, deciders, the store ports and the seams. No I/O. Imports: Crypto, CryptoExtras,
        // Mustache (message templates are validated and rendered here, one rule for the API, the CLI and the worker),
        // CSystemRandom.
        .target(
            name: "OTPGateCore",
            dependencies: [
                "CSystemRandom",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded store: SQLite through GRDB with a group-committing writer. Imports: Core, GRDB.
        .target(
            name: "OTPGateSQLite",
            dependencies: [
                "OTPGateCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The scale-out store: PostgreSQL through PostgresNIO's pooled client, run as a service.
        // Imports: Core, PostgresNIO, ServiceLifecycle.
        .target(
            name: "OTPGatePostgres",
            dependencies: [
                "OTPGateCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Metrics and log lines. Imports: Core, Metrics, Prometheus, Logging.
        .target(
            name: "OTPGateObservability",
            dependencies: [
                "OTPGateCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // Verification tokens: ES256 JWTs and the JWKS, keys from the secret store. Imports: Core, JWTKit, Crypto.
        .target(
            name: "OTPGateTokens",
            dependencies: [
                "OTPGateCore",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Delivery: the outbox worker and the providers (an SMTP client on SwiftNIO, SMS gateways over AsyncHTTPClient).
        // Imports: Core, Observability, ServiceLifecycle, Logging, NIO, NIOSSL, AsyncHTTPClient, Crypto.
        .target(
            name: "OTPGateDelivery",
            dependencies: [
                "OTPGateCore",
                "OTPGateObservability",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The native HTTP API: routes, API-key auth, request bodies, problems, the OpenAPI document.
        // Imports: Core, Observability, Hummingbird, Crypto, Yams. Never a store driver.
        .target(
            name: "OTPGateNativeAPI",
            dependencies: [
                "OTPGateCore",
                "OTPGateObservability",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // The vendor-compatible APIs (Surepass, KwikID): their routes, envelopes, sessions and password checks, all on
        // the engine. Imports: Core, NativeAPI (the request context and credential authentication), Hummingbird,
        // NIOPosix (the password threads), Crypto, Logging. Never a store driver.
        .target(
            name: "OTPGateProfiles",
            dependencies: [
                "OTPGateCore",
                "OTPGateNativeAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The application: configuration, wiring, background jobs. The only module that imports both store drivers.
        .target(
            name: "OTPGateServer",
            dependencies: [
                "OTPGateCore",
                "OTPGateSQLite",
                "OTPGatePostgres",
                "OTPGateObservability",
                "OTPGateTokens",
                "OTPGateDelivery",
                "OTPGateNativeAPI",
                "OTPGateProfiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line: serve, migrate, tenant, key and master/signing-key administration. Imports: Server, Tokens.
        .executableTarget(
            name: "otpgate",
            dependencies: [
                "OTPGateServer",
                "OTPGateCore",
                "OTPGateObservability",
                "OTPGateDelivery",
                "OTPGateTokens",
                "OTPGateProfiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The allocation guard (issue 17): a counting malloc, linked only into `otpgate-allocs`.
        .target(name: "CAllocationCounter"),
        // Heap allocations per request through the real router, engine and SQLite store, one request at a time with a
        // fixed clock and seed (`AllocationBudgetTests` holds them to `bench/allocations-baseline.json`).
        // Imports: Server, Core, Delivery, NativeAPI, Hummingbird, NIOCore, NIOEmbedded, Logging, CAllocationCounter.
        .executableTarget(
            name: "otpgate-allocs",
            dependencies: [
                "CAllocationCounter",
                "OTPGateServer",
                "OTPGateCore",
                "OTPGateDelivery",
                "OTPGateNativeAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OTPGateTests",
            dependencies: [
                "OTPGateCore",
                "OTPGateServer",
                "OTPGatePostgres",
                "OTPGateSQLite",
                "OTPGateObservability",
                "OTPGateTokens",
                "OTPGateDelivery",
                "OTPGateNativeAPI",
                "OTPGateProfiles",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
