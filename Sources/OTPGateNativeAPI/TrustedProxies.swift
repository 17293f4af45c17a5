import Foundation

/// The proxies whose `X-Forwarded-For` is believed (`OTPGATE_TRUSTED_PROXIES`: IPv4 and IPv6 CIDRs, or single
/// addresses). Any other peer is the client itself, whatever it claims in headers.
public struct TrustedProxies: Sendable, Equatable {
    struct Network: Sendable, Equatable {
        let bytes: [UInt8]
        let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            for (a, b) in zip(address, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if a & mask != b & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    /// Parses a comma-separated list such as `10.0.0.0/8, 192.168.1.10, fd00::/8`.
    public init(parsing list: String) throws(TrustedProxiesError) {
        var networks: [Network] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "/", maxSplits: 1).map(String.init)
            guard let bytes = Self.addressBytes(parts[0]) else { throw TrustedProxiesError(item: item) }
            let maximum = bytes.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : maximum
            guard let prefix, (0...maximum).contains(prefix) else { throw TrustedProxiesError(item: item) }
            networks.append(Network(bytes: bytes, prefixLength: prefix))
        }
        self.networks = networks
    }

    init(networks: [Network]) { self.networks = networks }

    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.addressBytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client of a request that arrived from `peer` with these `X-Forwarded-For` values: the peer itself unless
    /// it is a trusted proxy; otherwise the nearest address in the chain (from the right) that is not a trusted
    /// proxy, so a client cannot pick its address by prepending one.
    public func client(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "unknown" }
        guard contains(peer), !forwardedFor.isEmpty else { return Self.canonical(peer) }
        let chain = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in chain.reversed() {
            guard Self.addressBytes(hop) != nil else { return Self.canonical(peer) }  // a garbled chain: trust nothing in it
            if !contains(hop) { return Self.canonical(hop) }
        }
        return Self.canonical(chain.first ?? peer)
    }

    /// One spelling per address (`::FFFF:1.2.3.4` and `1.2.3.4` count as one client).
    static func canonical(_ address: String) -> String {
        guard let bytes = addressBytes(address) else { return address }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        guard inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count)) != nil else { return address }
        return String(cString: text)
    }

    /// 4 bytes for IPv4, 16 for IPv6 (an IPv4-mapped IPv6 address gives its 4 IPv4 bytes).
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return Array(bytes.suffix(4)) }
        return bytes
    }
}

public struct TrustedProxiesError: Error, Sendable, CustomStringConvertible {
    public let item: String
    public var description: String { "'\(item)' is not an IP address or CIDR (e.g. 10.0.0.0/8 or fd00::/8)" }
}
