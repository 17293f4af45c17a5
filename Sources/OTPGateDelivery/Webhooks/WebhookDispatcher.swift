public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import OTPGateCore
public import ServiceLifecycle

/// Delivers tenants' webhook events: claims due events under a lease (any instance, disjoint claims), signs each
/// body as Standard Webhooks says with the endpoint's secret (`webhook-id` is the event id, the same on every retry,
/// so a receiver can deduplicate), POSTs it, and records the answer; `WebhookDecider` schedules the retries.
/// Delivery is at least once: a receiver that answered after its lease ran out may see an event twice.
public struct WebhookDispatcher: Service {
    let store: any WebhookStore
    let cipher: PersonalDataCipher
    let clock: any OTPGateCore.Clock
    let client: HTTPClient
    let logger: Logger
    public var timeout: Duration = .seconds(10)
    public var lease: Duration = .seconds(60)
    /// The longest the dispatcher sleeps while it knows of no due event (other instances write events too).
    public var maxIdle: Duration = .seconds(1)
    var batchSize = 32
    var concurrency = 8

    /// A client that never follows a redirect: the URL's rules (https in production) hold for every request, and a
    /// receiver cannot bounce the signed body elsewhere. Process-wide, like `HTTPClient.shared`.
    public static let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    public init(
        store: any WebhookStore, cipher: PersonalDataCipher, clock: any OTPGateCore.Clock, client: HTTPClient = WebhookDispatcher.client,
        logger: Logger
    ) {
        self.store = store
        self.cipher = cipher
        self.clock = clock
        self.client = client
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if await drainOnce() > 0 { continue }
            var wait = maxIdle
            if let due = try? await store.nextWebhookDue() { wait = min(max(due - clock.now(), .zero), maxIdle) }
            try? await Task.sleep(for: max(wait, .milliseconds(10)))
        }
    }

    /// Claims and delivers one batch of due events. - Returns: how many were attempted.
    @discardableResult
    public func drainOnce() async -> Int {
        let claimed: [WebhookEvent]
        do {
            let now = clock.now()
            claimed = try await store.claimWebhookEvents(limit: batchSize, now: now, leaseUntil: now + lease)
        } catch {
            logger.warning("webhook claim failed", metadata: ["error": .string(String(describing: error))])
            return 0
        }
        guard !claimed.isEmpty else { return 0 }
        // A tenant whose endpoint cannot be read now is skipped: its claims run out and the events are tried again.
        var endpoints: [String: WebhookEndpoint?] = [:]
        for tenantID in Set(claimed.map(\.tenantID)) {
            do {
                endpoints[tenantID] = .some(try await store.webhookEndpoint(tenantID: tenantID))
            } catch {
                logger.warning("webhook endpoint unavailable", metadata: ["error": .string(String(describing: error))])
            }
        }
        let deliverable = claimed.filter { endpoints[$0.tenantID] != nil }
        let results = await withTaskGroup(of: WebhookResult.self) { group in
            var results: [WebhookResult] = []
            var pending = deliverable[...]
            while let event = pending.popFirst() {
                let endpoint = endpoints[event.tenantID] ?? nil
                group.addTask { await deliver(event, to: endpoint) }
                if deliverable.count - pending.count >= concurrency, let result = await group.next() { results.append(result) }
            }
            for await result in group { results.append(result) }
            return results
        }
        do {
            try await store.finishWebhookEvents(results, now: clock.now())
        } catch {
            logger.warning("webhook finish failed", metadata: ["error": .string(String(describing: error))])
        }
        return claimed.count
    }

    func deliver(_ event: WebhookEvent, to endpoint: WebhookEndpoint?) async -> WebhookResult {
        guard let endpoint else {
            return WebhookResult(eventID: event.id, attempt: event.attempts, state: .failed, error: "the tenant has no webhook endpoint")
        }
        let signer: StandardWebhookSignature
        do {
            let secret = try cipher.open(endpoint.sealedSecret, purpose: WebhookRules.secretPurpose, rowID: endpoint.tenantID)
            signer = try StandardWebhookSignature(secret: String(decoding: secret, as: UTF8.self))
        } catch {
            logger.error("webhook secret does not open", metadata: ["tenant_id": .string(endpoint.tenantID)])
            return WebhookResult(eventID: event.id, attempt: event.attempts, state: .failed, error: "the endpoint's secret does not open")
        }
        let body = event.body
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "OTPGate-Webhooks/1")
        for (name, value) in signer.headers(id: event.id, timestamp: clock.now().seconds, body: body) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        var status: Int?
        var failure: String?
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout.components.seconds) * 1000))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            status = Int(response.status.code)
        } catch {
            failure = HTTPGateway.describe(error)
        }
        let result = WebhookDecider.after(event, status: status, error: failure, now: clock.now())
        if result.state != .delivered {
            logger.info(
                "webhook attempt failed",
                metadata: [
                    "event_id": .string(event.id), "attempt": .stringConvertible(event.attempts),
                    "reason": .string(result.error ?? ""), "state": .string(result.state.rawValue),
                ])
        }
        return result
    }
}
