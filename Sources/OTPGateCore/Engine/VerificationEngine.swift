import Foundation

/// The verification use cases: start, check, resend, cancel, read, and token issue and introspection.
/// It builds each command (new ids, codes, hashes, sealed messages) and hands it to the store, which decides it
/// with the use case's decider (`StartDecider`, `CheckDecider` …) inside its transaction. It talks to the world
/// only through its seams (the verification store and token ledger ports, Clock, RandomSource, TokenSigner).
/// HTTP layers, native or vendor-compatible, call it and render the result.
public struct VerificationEngine: Sendable {
    public let store: any VerificationStore
    public let tokenLedger: any TokenLedger
    public let clock: any Clock
    public let random: any RandomSource
    public let hasher: CodeHasher
    /// Seals personal fields and outbox payloads, and opens what the store returns.
    public let cipher: PersonalDataCipher
    public let signer: any TokenSigner
    public let defaultPolicy: Policy
    public let issuer: String
    public let observer: any EngineObserver
    /// This process's outbox worker, if it runs one.
    public let localDelivery: (any LocalDelivery)?
    /// The channels a provider (or, in development, the console) delivers here: a start on another is refused with
    /// `channelUnavailable` before anything is written.
    public let servedChannels: Set<Channel>
    /// `OTPGATE_ENV=production`: a test destination works only if it was allowed there.
    public let production: Bool
    /// Whether starts, checks and consumed tokens write audit entries (`OTPGATE_AUDIT`, on by default).
    public let auditing: Bool

    public init(
        store: any VerificationStore, tokenLedger: any TokenLedger, clock: any Clock, random: any RandomSource, hasher: CodeHasher,
        cipher: PersonalDataCipher,
        signer: any TokenSigner, defaultPolicy: Policy, issuer: String, observer: any EngineObserver = NoEngineObserver(),
        localDelivery: (any LocalDelivery)? = nil, servedChannels: Set<Channel> = Set(Channel.allCases), production: Bool = false,
        auditing: Bool = true
    ) {
        self.servedChannels = servedChannels
        self.production = production
        self.auditing = auditing
        self.store = store
        self.tokenLedger = tokenLedger
        self.clock = clock
        self.random = random
        self.hasher = hasher
        self.cipher = cipher
        self.signer = signer
        self.defaultPolicy = defaultPolicy
        self.issuer = issuer
        self.observer = observer
        self.localDelivery = localDelivery
    }

    public func policy(for principal: Principal) -> Policy { defaultPolicy.applying(principal.tenant.policy) }

    /// The caller of a use case, for its audit entries: its key (or credential) id and the request; nil with auditing
    /// off. The API's administrative routes record their changes under it too.
    public func auditActor(_ principal: Principal) -> AuditActor? {
        auditing ? AuditActor(actor: principal.keyID.isEmpty ? "system" : principal.keyID, requestID: RequestScope.requestID) : nil
    }

    private func keyRequest(_ principal: Principal, _ policy: Policy, _ now: Timestamp) -> KeyRequest {
        KeyRequest(keyID: principal.keyID, limitPerSecond: policy.requestsPerKeyPerSecond, now: now)
    }

    // MARK: start

    /// Starts a verification. With `binding`, a vendor session naming it is written in the same transaction first; the
    /// start then throws `SessionBindingError` if the request was a replay or the session changed (nothing is written).
    public func start(_ request: StartRequest, principal: Principal, idempotency: IdempotencyClaim? = nil, binding: SessionBinding? = nil)
        async throws -> StartResult
    {
        for channel in [request.destination, request.companion, request.fallback].compactMap({ $0?.channel })
        where !servedChannels.contains(channel) {
            throw VerificationError.channelUnavailable(channel)
        }
        let now = clock.now()
        let policy = policy(for: principal)
        for destination in [request.destination, request.companion, request.fallback].compactMap({ $0 }) {
            if let refusal = AbuseRules.countryRefusal(destination, allowed: policy.allowedCountries) { throw refusal }
        }
        if let client = request.client {
            // Counted before the start is decided, so a refused start still counts (as a request against a key does).
            let counts = AbuseRules.clientCounts(client, tenantID: principal.tenant.id, policy: policy, now: now) { kind, value in
                cipher.blindIndex(tenantID: principal.tenant.id, kind: kind, value: value)
            }
            for counter in counts {
                let count = try await store.incrementCounter(scope: counter.scope, window: counter.window)
                if let refusal = AbuseRules.clientRefusal(count: count, for: counter, now: now) { throw refusal }
            }
        }
        let tenantID = principal.tenant.id
        // A test destination's start sends nothing: neither judged by the guard nor charged to a budget.
        let testCode = try testCode(for: request.destination, tenant: principal.tenant)
        let counted =
            policy.pumpingGuard && testCode == nil ? try await guardPrefixes(of: request, tenantID: tenantID, policy: policy, now: now) : []
        let id: String
        if let planned = request.plannedID, Identifier.isWellFormed(planned, prefix: "vrf") {
            id = planned
        } else {
            id = Identifier.make("vrf", random: random, at: now)
        }
        let length = testCode?.count ?? request.codeLength ?? policy.defaultCodeLength
        let ttl = request.ttlSeconds ?? policy.defaultTTLSeconds
        let codes =
            testCode.map { Codes(code: $0, companionCode: request.companionHasOwnCode ? $0 : nil) }
            ?? Codes(generating: length, ownCompanionCode: request.companionHasOwnCode, random: random)
        var draft = Verification(
            id: id, tenantID: principal.tenant.id, channel: request.destination.channel, destination: request.destination.value,
            purpose: request.purpose, locale: request.locale, reference: request.reference, context: request.context?.canonicalText,
            codeLength: length, codeHash: Data(codes.hash(hasher, verificationID: id)), state: .pending, attempts: 0,
            maxAttempts: request.maxAttempts ?? policy.defaultMaxAttempts, sends: 1, maxSends: policy.maxSends, ttlSeconds: ttl,
            createdAt: now, expiresAt: now + .seconds(ttl), lastSentAt: now,
            resendAvailableAt: now + policy.resendCooldown(afterSends: 1), updatedAt: now)
        draft.companion = request.companion
        draft.companionHasOwnCode = request.companionHasOwnCode
        if let fallback = request.fallback, fallback.channel != request.destination.channel {
            draft.fallback = fallback
            draft.fallbackAfterSeconds = request.fallbackAfterSeconds ?? policy.fallbackAfterSeconds
        }
        let verification = try cipher.sealed(draft)
        let messages = testCode == nil ? try sealedMessages(for: verification, send: 1, codes: codes, now: now) : nil
        var charges: [SendBudget.Charge] = []
        let result: StartResult
        do {
            if testCode == nil {
                charges = try await chargeBudgets(for: [request.destination, request.companion], tenantID: tenantID, policy: policy, now: now)
            }
            var command = StartCommand(
                verification: verification, message: messages?.first, companionMessage: messages?.companion, policy: policy,
                keyRequest: keyRequest(principal, policy, now), idempotency: idempotency, binding: binding,
                fallbackMessage: messages?.fallback)
            command.audit = auditActor(principal).map { actor in
                AuditEntry(
                    tenantID: tenantID, at: now, action: AuditAction.verificationStarted, actor: actor.actor, subject: id,
                    masked: request.destination.masked, requestID: actor.requestID,
                    detail: AuditAction.startDetail(channel: request.destination.channel, test: testCode != nil))
            }
            result = try await store.startVerification(command)
        } catch {
            await giveBack(charges, counted: counted, tenantID: tenantID, now: now)
            throw error
        }
        switch result {
        case .created:
            guard let messages else {
                observer.testVerificationStarted(channel: verification.channel)
                return result
            }
            observer.verificationStarted(channel: verification.channel)
            handOff(messages.first)
            if let companion = messages.companion { handOff(companion) }
            return result
        case .replayed(let first):
            await giveBack(charges, counted: counted, tenantID: tenantID, now: now)
            return .replayed(try cipher.reveal(first))
        }
    }

    /// The fixed code of one of the tenant's test destinations (`TestDestination`), or nil for any other destination;
    /// refuses one that is not allowed on a production deployment.
    /// With `refusing: false` (a resend), one not allowed there is an ordinary destination instead.
    private func testCode(for destination: Destination, tenant: Tenant, refusing: Bool = true) throws -> String? {
        guard let (key, test) = testDestination(destination, tenant: tenant) else { return nil }
        if production && !test.allowedInProduction {
            if refusing { throw VerificationError.testDestinationNotAllowed }
            return nil
        }
        return try test.code(key: key, tenantID: tenant.id, with: cipher)
    }

    private func testDestination(_ destination: Destination, tenant: Tenant) -> (key: String, test: TestDestination)? {
        guard !tenant.testDestinations.isEmpty else { return nil }
        let key = cipher.destinationKey(destination, tenantID: tenant.id)
        guard let test = tenant.testDestinations[key], test.channel == destination.channel else { return nil }
        return (key, test)
    }

    /// Counts the start against each watched prefix it sends to, and refuses it when the conversion guard holds one.
    /// Returns the prefixes it was counted under.
    private func guardPrefixes(of request: StartRequest, tenantID: String, policy: Policy, now: Timestamp) async throws -> [String] {
        var counted: [String] = []
        for prefix in PumpingGuard.prefixes(of: [request.destination, request.companion, request.fallback]) {
            let hold: AbuseHold
            let admission: PrefixAdmission
            do {
                admission = try await store.admitPrefixStart(
                    PrefixStart(
                        tenantID: tenantID, prefix: prefix, now: now, policy: policy,
                        audit: auditing ? .system(requestID: RequestScope.requestID) : nil))
            } catch {
                await giveBack([], counted: counted, tenantID: tenantID, now: now)
                throw error
            }
            switch admission {
            case .admitted:
                counted.append(prefix)
                continue
            case .held(let held): hold = held
            case .tripped(let made):
                observer.abuseHoldMade(made)
                hold = made
            }
            await giveBack([], counted: counted, tenantID: tenantID, now: now)
            observer.startRefused(reason: hold.reason.rawValue)
            throw VerificationError.suspectedPumping(retryAfter: max(hold.until - now, .seconds(1)))
        }
        return counted
    }

    /// Undoes what a start or resend took before it was refused or replayed: its budget charges and its counts for the
    /// conversion guard. A give-back that fails leaves a budget a little short, or a prefix's count a little high.
    private func giveBack(_ charges: [SendBudget.Charge], counted prefixes: [String], tenantID: String, now: Timestamp) async {
        for charge in charges { try? await store.refundBudget(charge) }
        for prefix in prefixes { try? await store.uncountPrefixStart(tenantID: tenantID, prefix: prefix, now: now) }
    }

    /// Spends the send's messages (and their price) from each of the tenant's budgets, or refuses the send with
    /// `budgetExhausted` when one would go past its limit (giving back what it already took from the others).
    private func chargeBudgets(for destinations: [Destination?], tenantID: String, policy: Policy, now: Timestamp) async throws
        -> [SendBudget.Charge]
    {
        var charged: [SendBudget.Charge] = []
        for charge in SendBudget.charges(for: destinations, tenantID: tenantID, policy: policy, now: now) where charge.amount > 0 {
            let warning = SendBudget.warningDetail(charge, currency: policy.prices.currency).canonicalText
            let total: Int64?
            do {
                total = try await store.chargeBudget(charge, tenantID: tenantID, warning: warning, now: now)
            } catch {
                await giveBack(charged, counted: [], tenantID: tenantID, now: now)
                throw error
            }
            guard let total else {
                await giveBack(charged, counted: [], tenantID: tenantID, now: now)
                observer.startRefused(reason: "budget_exhausted")
                throw SendBudget.refusal(charge, now: now)
            }
            if SendBudget.crossesWarning(charge, total: total) { observer.budgetWarning(tenantID: tenantID, budget: charge.name) }
            charged.append(charge)
        }
        return charged
    }

    /// Counts a request that runs no other use case (a vendor profile's search or password check) against the caller's
    /// per-key limit; throws `keyRateLimited` past it.
    public func countRequest(principal: Principal) async throws {
        let now = clock.now()
        try await store.countKeyRequest(keyRequest(principal, policy(for: principal), now))
    }

    /// A verification id to plan a start under (`StartRequest.plannedID`).
    public func plannedID() -> String { Identifier.make("vrf", random: random, at: clock.now()) }

    /// The blind index a destination is stored under for this tenant (operators' queries and tests look it up by it).
    public func destinationKey(_ destination: Destination, tenantID: String) -> String {
        cipher.destinationKey(destination, tenantID: tenantID)
    }

    private func sealedMessage(
        for v: Verification, to destination: Destination, send: Int, part: Int, code: String, now: Timestamp, notBefore: Timestamp? = nil
    ) throws -> NewOutboxMessage {
        var payload = MessagePayload(destination: destination.value, code: code, purpose: v.purpose, locale: v.locale, ttlSeconds: v.ttlSeconds)
        payload.hasFallback = part == 1 && v.fallback != nil
        let sealed = try cipher.sealPayload(payload, verificationID: v.id)
        var message = NewOutboxMessage(
            id: NewOutboxMessage.id(verificationID: v.id, send: send, part: part), tenantID: v.tenantID, verificationID: v.id,
            channel: destination.channel, sealedPayload: sealed, createdAt: now, expiresAt: v.expiresAt,
            claimedUntil: notBefore == nil ? localDelivery?.lease(now: now) : nil)
        message.notBefore = notBefore
        return message
    }

    /// The messages of one send: to the destination, to the companion destination (same time), and to the fallback
    /// destination (waiting `fallbackAfterSeconds`, `FallbackDecider`).
    private struct SendMessages {
        var first: NewOutboxMessage
        var companion: NewOutboxMessage?
        var fallback: NewOutboxMessage?
    }

    private func sealedMessages(for v: Verification, send: Int, codes: Codes, now: Timestamp) throws -> SendMessages {
        let first = try sealedMessage(
            for: v, to: Destination(unchecked: v.destination, channel: v.channel), send: send, part: 1, code: codes.code, now: now)
        let companion = try v.companion.map {
            try sealedMessage(
                for: v, to: $0, send: send, part: NewOutboxMessage.companionPart, code: codes.companionCode ?? codes.code, now: now)
        }
        let fallback = try v.fallback.map {
            try sealedMessage(
                for: v, to: $0, send: send, part: NewOutboxMessage.fallbackPart, code: codes.code, now: now,
                notBefore: now + .seconds(v.fallbackAfterSeconds))
        }
        return SendMessages(first: first, companion: companion, fallback: fallback)
    }

    /// After the commit: give a claimed message to the local worker, or wake it to claim an unclaimed one.
    private func handOff(_ message: NewOutboxMessage) {
        guard let localDelivery else { return }
        if message.claimedUntil != nil { localDelivery.handOff(message.stored) } else { localDelivery.nudge() }
    }

    // MARK: check

    /// Counts an approval for the conversion guard under each watched prefix the verification sent to. The approval
    /// is already committed, so a failed count does not fail the check: it only leaves the prefix's rate a little lower.
    private func countApproval(of v: Verification, now: Timestamp) async {
        for prefix in PumpingGuard.prefixes(of: [Destination(unchecked: v.destination, channel: v.channel), v.companion, v.fallback]) {
            try? await store.recordPrefixApproval(tenantID: v.tenantID, prefix: prefix, now: now)
        }
    }

    /// Checks `code` (and `companionCode`, for a verification whose companion destination got a code of its own: both
    /// must be right, and a wrong one counts one attempt whichever it is). A wrong code counts an attempt and throws
    /// `incorrectCode`; the right one returns a signed token.
    public func check(id: String, code: String, companionCode: String? = nil, principal: Principal) async throws -> Approval {
        guard Identifier.isWellFormed(id, prefix: "vrf") else { throw VerificationError.notFound }
        let now = clock.now()
        let policy = policy(for: principal)
        let candidate = Codes(code: code, companionCode: companionCode).hash(hasher, verificationID: id)
        var command = CheckCommand(
            id: id, tenantID: principal.tenant.id, candidateHash: candidate, now: now, policy: policy,
            keyRequest: keyRequest(principal, policy, now))
        command.audit = auditActor(principal)
        let outcome = try await store.checkVerification(command)
        switch outcome {
        case .incorrect(let v):
            observer.checkFailed(channel: v.channel)
            throw VerificationError.incorrectCode(attemptsRemaining: v.attemptsRemaining)
        case .approved(let stored):
            let v = try cipher.reveal(stored)
            observer.verificationApproved(channel: v.channel)
            // A test destination sent nothing, so its approval says nothing about its prefix.
            if policy.pumpingGuard && testDestination(Destination(unchecked: v.destination, channel: v.channel), tenant: principal.tenant) == nil {
                await countApproval(of: v, now: now)
            }
            let ttl = min(max(policy.tokenTTLSeconds, Policy.tokenTTLRange.lowerBound), Policy.tokenTTLRange.upperBound)
            let claims = claims(for: v, now: now, ttlSeconds: ttl, reached: v.fallback == nil ? nil : await destinationsReached(v))
            let token = try await signer.sign(claims)
            return Approval(verification: v, token: token, tokenExpiresAt: Timestamp(seconds: claims.exp))
        }
    }

    /// The token's claims: the destinations the code went to, each `_verified` only when the code that was typed can
    /// only have come from it. For a verification with a fallback, `reached` is what `destinationsReached` found: one
    /// destination is verified; two, none or an unknown answer (`.unknown`) name every candidate and verify none.
    func claims(for v: Verification, now: Timestamp, ttlSeconds: Int, reached: Reached? = nil) -> VerificationClaims {
        var claims = VerificationClaims(
            iss: issuer, sub: v.id, tenantID: v.tenantID, jti: Identifier.make("tok", random: random, at: now), iat: now.seconds,
            exp: now.seconds + Int64(ttlSeconds), purpose: v.purpose, context: v.context.flatMap { try? JSONValue(parsing: $0) },
            reference: v.reference, amr: ["otp"])
        let primary = Destination(unchecked: v.destination, channel: v.channel)
        var destinations = [primary] + (v.companion.map { [$0] } ?? [])
        var verified = true
        switch reached {
        case nil: break
        case .some(.unknown): (destinations, verified) = ([primary] + (v.fallback.map { [$0] } ?? []), false)
        case .some(.destinations(let list)) where list.count == 1: destinations = list
        case .some(.destinations(let list)): (destinations, verified) = (list.isEmpty ? [primary] : list, false)
        }
        for destination in destinations {
            switch destination.channel {
            case .sms:
                claims.phoneNumber = destination.value
                claims.phoneNumberVerified = verified
            case .email:
                claims.email = destination.value
                claims.emailVerified = verified
            }
            if !claims.amr.contains(destination.channel.rawValue) { claims.amr.append(destination.channel.rawValue) }
        }
        return claims
    }

    /// Which destinations of a verification with a fallback may have carried its code.
    enum Reached: Equatable {
        case destinations([Destination])
        /// The outbox could not be read: the approval stands, the token verifies no destination.
        case unknown
    }

    /// The destinations of the current send whose message may have arrived: every message tried at least once, except
    /// one refused at its only attempt before the provider took it (no provider id). A message superseded, retried
    /// or reported failed after it was tried may still have arrived, so it counts.
    private func destinationsReached(_ v: Verification) async -> Reached {
        guard let messages = try? await store.outboxMessages(verificationID: v.id) else { return .unknown }
        let first = NewOutboxMessage.id(verificationID: v.id, send: v.sends)
        var reached: [Destination] = []
        for message in messages where Self.mayHaveArrived(message) {
            if message.id == first {
                reached.append(Destination(unchecked: v.destination, channel: v.channel))
            } else if let fallback = v.fallback, message.id == FallbackDecider.fallbackID(of: first) {
                reached.append(fallback)
            }
        }
        return .destinations(reached)
    }

    static func mayHaveArrived(_ m: OutboxMessage) -> Bool {
        guard m.attempts > 0 else { return false }
        return !(m.state == .failed && m.providerMessageID == nil && m.attempts == 1)
    }

    // MARK: resend, cancel, read

    /// Sends a new code (the old one stops working); the attempt counter is kept.
    public func resend(id: String, channel: Channel?, principal: Principal) async throws -> Verification {
        guard Identifier.isWellFormed(id, prefix: "vrf") else { throw VerificationError.notFound }
        let now = clock.now()
        let policy = policy(for: principal)
        // Read first to render the message; the store decides every rule inside its transaction.
        // The read counts the request against the key (once: the resend below does not count it again).
        let current = try cipher.reveal(
            await store.verification(id: id, tenantID: principal.tenant.id, keyRequest: keyRequest(principal, policy, now)))
        let destination = Destination(unchecked: current.destination, channel: current.channel)
        // A test destination's resend keeps its fixed code and sends nothing.
        let testCode = try testCode(for: destination, tenant: principal.tenant, refusing: false)
        let codes =
            testCode.map { Codes(code: $0, companionCode: current.companionHasOwnCode ? $0 : nil) }
            ?? Codes(generating: current.codeLength, ownCompanionCode: current.companionHasOwnCode, random: random)
        var renewed = current
        renewed.expiresAt = now + .seconds(current.ttlSeconds)
        // `ResendDecider` renumbers the messages by the send it really is (a concurrent resend may have come first).
        var messages = testCode == nil ? try sealedMessages(for: renewed, send: current.sends + 1, codes: codes, now: now) : nil
        if policy.budgets.isSet, let refusal = ResendDecider.refusal(current, channel: channel, now: now) { throw refusal }
        let charges =
            testCode == nil
            ? try await chargeBudgets(for: [destination, current.companion], tenantID: principal.tenant.id, policy: policy, now: now) : []
        let v: Verification
        do {
            v = try await store.resendVerification(
                ResendCommand(
                    id: id, tenantID: principal.tenant.id, channel: channel, codeHash: codes.hash(hasher, verificationID: id),
                    message: messages?.first, companionMessage: messages?.companion, now: now, policy: policy, keyRequest: nil,
                    fallbackMessage: messages?.fallback))
        } catch {
            await giveBack(charges, counted: [], tenantID: principal.tenant.id, now: now)
            throw error
        }
        guard var messages else { return try cipher.reveal(v) }
        messages.first.id = NewOutboxMessage.id(verificationID: v.id, send: v.sends)
        messages.first.expiresAt = v.expiresAt
        handOff(messages.first)
        if var companion = messages.companion {
            companion.id = NewOutboxMessage.id(verificationID: v.id, send: v.sends, part: NewOutboxMessage.companionPart)
            companion.expiresAt = v.expiresAt
            handOff(companion)
        }
        return try cipher.reveal(v)
    }

    public func cancel(id: String, principal: Principal) async throws -> Verification {
        guard Identifier.isWellFormed(id, prefix: "vrf") else { throw VerificationError.notFound }
        let now = clock.now()
        return try cipher.reveal(
            await store.cancelVerification(
                id: id, tenantID: principal.tenant.id, now: now, keyRequest: keyRequest(principal, policy(for: principal), now)))
    }

    /// Reads a verification of the caller's tenant. `counted: false` reads without counting a request against the key,
    /// for a caller whose next use case counts this request (a vendor flow that reads before it checks or resends).
    public func verification(id: String, principal: Principal, counted: Bool = true) async throws -> Verification {
        guard Identifier.isWellFormed(id, prefix: "vrf") else { throw VerificationError.notFound }
        let now = clock.now()
        let keyRequest = counted ? keyRequest(principal, policy(for: principal), now) : nil
        return try cipher.reveal(await store.verification(id: id, tenantID: principal.tenant.id, keyRequest: keyRequest))
    }

    // MARK: tokens

    /// Introspects a token for the calling tenant; with `consume`, the token is accepted once across the deployment.
    public func verifyToken(_ token: String, consume: Bool, purpose: String?, principal: Principal) async throws -> TokenVerdict {
        let now = clock.now()
        try await store.countKeyRequest(keyRequest(principal, policy(for: principal), now))
        let claims: VerificationClaims
        switch await signer.verifySignature(token) {
        case .failure(let rejection): return .invalid(rejection)
        case .success(let c): claims = c
        }
        if let rejection = TokenDecider.rejection(claims, tenantID: principal.tenant.id, purpose: purpose, now: now) { return .invalid(rejection) }
        if consume {
            var consumption = TokenDecider.consumption(claims, now: now)
            consumption.audit = auditActor(principal)
            let first = try await tokenLedger.consume(consumption)
            return first ? .valid(claims) : .invalid(.alreadyUsed)
        }
        return try await tokenLedger.isConsumed(jti: claims.jti) ? .invalid(.alreadyUsed) : .valid(claims)
    }
}

/// The code of one send, and the companion destination's own code when it gets one. The stored hash is the code's
/// keyed hash, followed by the companion code's under a hash of its own (so the two codes cannot be swapped).
struct Codes {
    var code: String
    var companionCode: String?

    init(code: String, companionCode: String?) {
        self.code = code
        self.companionCode = companionCode
    }

    init(generating length: Int, ownCompanionCode: Bool, random: any RandomSource) {
        let generator = CodeGenerator(random: random)
        self.init(code: generator.generate(length: length), companionCode: ownCompanionCode ? generator.generate(length: length) : nil)
    }

    func hash(_ hasher: CodeHasher, verificationID: String) -> [UInt8] {
        let first = hasher.hash(code: code, verificationID: verificationID)
        guard let companionCode else { return first }
        return first + hasher.hash(code: companionCode, verificationID: verificationID + "/companion")
    }
}
