import Foundation

/// How a tenant's webhook endpoint is set, whoever sets it (the API or the command line): the URL's rules, the
/// events it takes, and a fresh `whsec_` secret sealed for the store.
public enum WebhookRules {
    /// An `https` URL (or `http` where allowed: development, a test receiver on loopback) of at most 2048 characters,
    /// with a host, no credentials and no fragment.
    public static func validatedURL(_ text: String, allowHTTP: Bool) throws(FieldRefusal) -> String {
        guard text.utf8.count <= 2048, text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw FieldRefusal(field: "url", reason: "must be an absolute URL of at most 2048 visible ASCII characters")
        }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https://"
        } else if lower.hasPrefix("http://") {
            guard allowHTTP else { throw FieldRefusal(field: "url", reason: "must use https (http is allowed outside production only)") }
            scheme = "http://"
        } else {
            throw FieldRefusal(field: "url", reason: "must be an http(s) URL")
        }
        let authority = Self.authority(of: text)
        guard !authority.isEmpty, !authority.contains("@") else { throw FieldRefusal(field: "url", reason: "must name a host, without credentials") }
        guard !text.contains("#") else { throw FieldRefusal(field: "url", reason: "must not have a fragment") }
        return text
    }

    /// What follows `scheme://` up to the path, query or fragment: the host (and port). The audit log records only
    /// this of an endpoint's URL, since its path or query may carry a secret.
    public static func authority(of url: String) -> Substring {
        guard let scheme = url.range(of: "://") else { return "" }
        return url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
    }

    /// The events an endpoint takes: all of them when `names` is `nil`.
    public static func events(_ names: [String]?) throws(FieldRefusal) -> Set<WebhookEventType> {
        guard let names else { return Set(WebhookEventType.allCases) }
        var out: Set<WebhookEventType> = []
        for name in names {
            guard let type = WebhookEventType(rawValue: name) else {
                throw FieldRefusal(
                    field: "events", reason: "must list event types among \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.insert(type)
        }
        guard !out.isEmpty else { throw FieldRefusal(field: "events", reason: "must list at least one event type") }
        return out
    }

    /// A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks writes them.
    public static func newSecret(random: any RandomSource) -> String { "whsec_" + Data(random.bytes(32)).base64EncodedString() }

    /// The endpoint to store: a new secret when there was no endpoint or `rotate` asks for one (returned once, to
    /// show), else the stored one kept.
    public static func endpoint(
        tenantID: String, url: String, events: Set<WebhookEventType>, existing: WebhookEndpoint?, rotate: Bool, cipher: PersonalDataCipher,
        random: any RandomSource, now: Timestamp
    ) throws -> (endpoint: WebhookEndpoint, newSecret: String?) {
        var secret: String?
        let sealed: [UInt8]
        if let existing, !rotate {
            sealed = existing.sealedSecret
        } else {
            let fresh = newSecret(random: random)
            secret = fresh
            sealed = try cipher.seal(Array(fresh.utf8), purpose: secretPurpose, rowID: tenantID)
        }
        let endpoint = WebhookEndpoint(
            tenantID: tenantID, url: url, sealedSecret: sealed, events: events, createdAt: existing?.createdAt ?? now, updatedAt: now)
        return (endpoint, secret)
    }

    /// The purpose an endpoint's secret is sealed under (with the tenant id as the row).
    public static let secretPurpose = "webhook-secret"
}
