/// Tenant webhook endpoints and the events waiting for them. Events are written by the stores themselves, in the
/// transaction of the change they report (an approval, the last wrong code, an expiry, a failed message), and only
/// for a tenant whose endpoint takes that type; the dispatcher claims them under a lease like outbox messages.
public protocol WebhookStore: Sendable {
    /// Inserts the tenant's endpoint, or changes its URL and events, and its secret only when `replacingSecret`: two
    /// saves at once never leave a secret nobody was shown. Returns the endpoint as stored. The audit entry (nil with
    /// auditing off) is written in the same transaction.
    func saveWebhookEndpoint(_ endpoint: WebhookEndpoint, replacingSecret: Bool, audit: AuditEntry?) async throws -> WebhookEndpoint
    func webhookEndpoint(tenantID: String) async throws -> WebhookEndpoint?
    /// Whether there was one to delete. Events already written stay, and fail when they find no endpoint.
    func deleteWebhookEndpoint(tenantID: String, audit: AuditEntry?) async throws -> Bool
    func claimWebhookEvents(limit: Int, now: Timestamp, leaseUntil: Timestamp) async throws -> [WebhookEvent]
    /// Records attempts' outcomes; one whose claim was lost (its lease ran out and it was claimed again) is ignored.
    func finishWebhookEvents(_ results: [WebhookResult], now: Timestamp) async throws
    func nextWebhookDue() async throws -> Timestamp?
    /// The tenant's most recent events, newest first.
    func webhookEvents(tenantID: String, limit: Int) async throws -> [WebhookEvent]
}
