import Foundation
public import Logging
public import OTPGateCore
public import OTPGateObservability
public import ServiceLifecycle

/// Drains the transactional outbox: claims due messages with a lease, unseals and renders each, hands it to
/// the sender once per attempt, and records the outcome. Failed attempts are retried with exponential backoff;
/// a claim abandoned by a crashed process is picked up again when its lease runs out.
public struct OutboxWorker: Service {
    let store: any OutboxStore
    let routes: DeliveryRoutes
    let cipher: PersonalDataCipher
    let renderer: MessageRenderer
    /// Tenants' own wording; without one (or a template that fails to render), `renderer`'s.
    let templates: TemplateCache?
    /// Tenants' own SMS gateways and DLT registrations; without them, `routes`.
    public var tenantSenders: TenantSenders?
    let clock: any OTPGateCore.Clock
    /// Spreads retries (`DeliveryDecider.backoff`).
    let random: any RandomSource
    let metrics: ServerMetrics
    let local: LocalDeliveryQueue
    let logger: Logger
    /// The longest the worker sleeps while it knows of no due message: other instances may add work (or leave
    /// claims to run out) without being able to wake this one.
    public var maxIdle: Duration = .milliseconds(500)
    var batchSize = 128
    public var lease: Duration = .seconds(30)
    public var maxAttempts = 5
    var concurrency = 16

    public init(
        store: any OutboxStore, routes: DeliveryRoutes, cipher: PersonalDataCipher, renderer: MessageRenderer, clock: any OTPGateCore.Clock,
        random: any RandomSource = SystemRandomSource(), metrics: ServerMetrics, local: LocalDeliveryQueue, logger: Logger,
        templates: TemplateCache? = nil
    ) {
        self.templates = templates
        self.store = store
        self.routes = routes
        self.random = random
        self.cipher = cipher
        self.renderer = renderer
        self.clock = clock
        self.metrics = metrics
        self.local = local
        self.logger = logger
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            var lastBacklog = ContinuousClock.now - backlogInterval
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if ContinuousClock.now - lastBacklog >= backlogInterval {
                    await recordBacklog()
                    lastBacklog = .now
                }
                if await drainOnce() == 0 { await sleepUntilDue() }
            }
        } onGracefulShutdown: {
            local.wake()
        }
        // Messages already handed over are claimed by this process: deliver them before exiting.
        while !local.isEmpty { await deliverBatch(await stillCurrent(local.take(batchSize))) }
    }

    /// The DLT content template id the built-in SMS text is registered under (`OTPGATE_SMS_DLT_TEMPLATE_ID`).
    public var builtInDLTTemplateID: String?

    /// How often the backlog gauges are refreshed (one small query).
    var backlogInterval: Duration = .seconds(5)

    private func recordBacklog() async {
        do {
            let backlog = try await store.outboxBacklog()
            metrics.outboxBacklog(depth: backlog.depth, oldestAge: backlog.oldest.map { max(clock.now() - $0, .zero) } ?? .zero)
        } catch {
            logger.warning("outbox backlog unavailable", metadata: ["error": .string(String(describing: error))])
        }
    }

    /// Delivers the messages handed over in-process, then claims and delivers one batch of due messages from
    /// the store (retries, and messages written by other instances or left by a crashed one).
    /// - Returns: how many messages were delivered.
    @discardableResult
    public func drainOnce() async -> Int {
        let handed = await stillCurrent(local.take(batchSize))
        await deliverBatch(handed)
        let claimed: [OutboxMessage]
        do {
            let now = clock.now()
            claimed = try await store.claimOutbox(limit: batchSize, now: now, leaseUntil: now + lease)
        } catch {
            logger.warning("outbox claim failed", metadata: ["error": .string(String(describing: error))])
            return handed.count
        }
        await deliverBatch(claimed)
        return handed.count + claimed.count
    }

    /// The handed-over messages whose claims still hold. A message waits in memory after its commit; a resend or
    /// cancel meanwhile supersedes it in the store, and its code must then not go out. If the store cannot answer,
    /// none is sent now: their leases run out and a worker claims whatever is still due.
    private func stillCurrent(_ handed: [OutboxMessage]) async -> [OutboxMessage] {
        guard !handed.isEmpty else { return [] }
        do {
            let held = try await store.claimsHeld(handed.map { OutboxClaim(messageID: $0.id, attempt: $0.attempts) })
            return handed.filter { held.contains($0.id) }
        } catch {
            logger.warning("outbox claim check failed", metadata: ["error": .string(String(describing: error))])
            return []
        }
    }

    /// Delivers claimed messages concurrently and records the outcomes in one write.
    private func deliverBatch(_ claimed: [OutboxMessage]) async {
        guard !claimed.isEmpty else { return }
        // At most `concurrency` sends in flight: enough to hide a gateway's latency without flooding the executor.
        let results = await withTaskGroup(of: DeliveryResult?.self) { group in
            var results: [DeliveryResult] = []
            var pending = claimed[...]
            while let message = pending.popFirst() {
                group.addTask { await deliverWithinLease(message) }
                if claimed.count - pending.count >= concurrency, let result = await group.next(), let result { results.append(result) }
            }
            for await result in group { if let result { results.append(result) } }
            return results
        }
        do {
            try await store.finishOutbox(results, now: clock.now())
        } catch {
            // The leases run out and the messages are claimed again: at-least-once delivery.
            logger.warning("outbox finish failed", metadata: ["error": .string(String(describing: error))])
        }
    }

    /// Sleeps until the earliest due message the store knows of (at most `maxIdle`), waking early for a message
    /// handed over or written in this process, or for shutdown.
    private func sleepUntilDue() async {
        var wait = maxIdle
        do {
            if let due = try await store.nextOutboxDue() { wait = min(max(due - clock.now(), .zero), maxIdle) }
        } catch {
            logger.warning("outbox due time unavailable", metadata: ["error": .string(String(describing: error))])
        }
        await local.sleep(upTo: wait)
    }

    /// The tenant's template for the message's purpose, locale and channel, else the built-in wording.
    private func render(_ payload: MessagePayload, message: OutboxMessage, builtInDLTTemplateID: String?) async -> RenderedMessage {
        if let templates,
            let template = await templates.templates(tenantID: message.tenantID).best(
                purpose: payload.purpose, locale: payload.locale, channel: message.channel)
        {
            let values = TemplateValues(
                code: payload.code, minutes: max(1, (payload.ttlSeconds + 59) / 60), brand: renderer.brand, purpose: payload.purpose)
            do {
                return try template.render(values)
            } catch {
                // Saved templates parse (they are validated); this is a template written around the API.
                logger.error("template does not render", metadata: ["tenant_id": .string(message.tenantID), "error": .string("\(error)")])
            }
        }
        let builtIn = renderer.render(payload, channel: message.channel)
        return RenderedMessage(
            subject: builtIn.subject, text: builtIn.text, html: nil, dltTemplateID: message.channel == .sms ? builtInDLTTemplateID : nil)
    }

    /// Sends a claimed message only while at least half its lease is left: a batch behind slow providers must not
    /// send a message whose lease may run out mid-send, when another worker could claim and send it too. A message
    /// skipped here is claimed again when its lease ends.
    private func deliverWithinLease(_ message: OutboxMessage) async -> DeliveryResult? {
        if let leaseUntil = message.leaseUntil, leaseUntil - clock.now() < lease / 2 { return nil }
        return await deliver(message)
    }

    package func deliver(_ message: OutboxMessage) async -> DeliveryResult {
        let now = clock.now()
        let tenantRoute = message.channel == .sms ? await tenantSenders?.smsRoute(tenantID: message.tenantID) : nil
        let sender = tenantRoute?.sender ?? routes.sender(for: message.channel)
        var hasFallback = true  // until the payload says otherwise
        func result(_ outcome: DeliveryOutcome, _ label: String, awaitsReport: Bool = false) -> DeliveryResult {
            metrics.messageDelivered(channel: message.channel, sender: sender?.name ?? "none", outcome: label)
            var result = DeliveryResult(
                messageID: message.id, attempt: message.attempts, outcome: outcome, provider: sender?.name, awaitsReport: awaitsReport)
            result.hasFallback = hasFallback
            return result
        }
        if DeliveryDecider.isExpired(message, now: now) { return result(.expired, "expired") }
        guard let sender else {
            // Written before a restart that dropped the channel's provider: the code cannot go out here.
            return result(.failed(error: "no provider serves the \(message.channel.rawValue) channel"), "failed")
        }
        guard let sealed = message.sealedPayload,
            let payload = try? cipher.openPayload(sealed, verificationID: message.verificationID)
        else {
            logger.error("outbox payload does not open", metadata: ["message_id": .stringConvertible(message.id)])
            return result(.failed(error: "payload does not open under the data key"), "failed")
        }
        hasFallback = payload.hasFallback
        let rendered = await render(payload, message: message, builtInDLTTemplateID: tenantRoute?.builtInDLTTemplateID ?? builtInDLTTemplateID)
        let outgoing = OutgoingMessage(
            messageID: message.id, tenantID: message.tenantID, verificationID: message.verificationID, channel: message.channel,
            destination: payload.destination, subject: rendered.subject, text: rendered.text, html: rendered.html,
            dltTemplateID: rendered.dltTemplateID)
        let started = ContinuousClock.now
        do {
            let receipt = try await sender.send(outgoing)
            metrics.sendLatency(channel: message.channel, sender: sender.name, duration: ContinuousClock.now - started)
            return result(.sent(providerMessageID: receipt.providerMessageID), "sent", awaitsReport: receipt.awaitsReport)
        } catch {
            metrics.sendLatency(channel: message.channel, sender: sender.name, duration: ContinuousClock.now - started)
            let delivery = error as? DeliveryError ?? DeliveryError(retryable: true, reason: String(describing: type(of: error)))
            logger.warning(
                "delivery attempt failed",
                metadata: [
                    "message_id": .stringConvertible(message.id), "attempt": .stringConvertible(message.attempts), "reason": .string(delivery.reason),
                ])
            let jitter = Double(random.uniform(below: 1 << 20)) / Double(1 << 20)
            let outcome = DeliveryDecider.afterFailure(message, error: delivery, now: clock.now(), maxAttempts: maxAttempts, jitter: jitter)
            if case .retry = outcome { return result(outcome, "retry") }
            return result(outcome, "failed")
        }
    }
}
