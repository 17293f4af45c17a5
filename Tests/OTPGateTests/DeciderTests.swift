import Foundation
import OTPGateCore
import Testing

/// The deciders, with no database: every rule of every use case and the order in which the rules apply.
/// The stores only load, lock and write; these are the decisions both backends and the batches share.
@Suite struct DeciderTests {
    static let t0 = Timestamp(milliseconds: 1_800_000_000_000)
    static let hash = [UInt8](repeating: 7, count: 32)
    static let otherHash = [UInt8](repeating: 8, count: 32)

    static func verification(
        state: VerificationState = .pending, attempts: Int = 0, sends: Int = 1, tenant: String = "ten_a", at now: Timestamp = t0
    ) -> Verification {
        Verification(
            id: "vrf_1", tenantID: tenant, channel: .sms, destination: "+919876543210", purpose: nil, locale: nil, reference: nil,
            context: nil, codeLength: 6, codeHash: Data(hash), state: state, attempts: attempts, maxAttempts: 3, sends: sends, maxSends: 3,
            ttlSeconds: 300, createdAt: now, expiresAt: now + .seconds(300), lastSentAt: now, resendAvailableAt: now + .seconds(30),
            updatedAt: now, destinationKey: "+919876543210")
    }

    static func message(send: Int = 1) -> NewOutboxMessage {
        NewOutboxMessage(
            id: NewOutboxMessage.id(verificationID: "vrf_1", send: send), tenantID: "ten_a", verificationID: "vrf_1", channel: .sms,
            sealedPayload: [1, 2, 3], createdAt: t0, expiresAt: t0 + .seconds(300))
    }

    static func policy() -> Policy {
        var p = Policy()
        p.startsPerDestination = 2
        p.startWindowSeconds = 600
        p.failedChecksBeforeLock = 2
        p.failureWindowSeconds = 3600
        p.lockSeconds = 900
        return p
    }

    // MARK: start

    static func start(key: String? = nil, hash: [UInt8] = [1]) -> StartCommand {
        StartCommand(
            verification: verification(), message: message(), policy: policy(), keyRequest: nil,
            idempotency: key.map { IdempotencyClaim(key: $0, requestHash: hash) })
    }

    static func record(hash: [UInt8] = [1], createdAt: Timestamp = t0 - .seconds(60)) -> IdempotencyRecord {
        IdempotencyRecord(tenantID: "ten_a", key: "k", requestHash: hash, response: verification(at: createdAt).withoutSecrets, createdAt: createdAt)
    }

    @Test func startCreatesTheVerificationAndItsFirstMessage() {
        guard case .create(let writes) = StartDecider.decide(Self.start(), StartDecider.Loaded()) else {
            Issue.record("not created")
            return
        }
        #expect(writes.verification == Self.verification())
        #expect(writes.message == Self.message())
        #expect(writes.idempotency == nil)
    }

    @Test func startWithAKeyStoresTheFirstResponseWithoutSecrets() {
        guard case .create(let writes) = StartDecider.decide(Self.start(key: "k"), StartDecider.Loaded()) else {
            Issue.record("not created")
            return
        }
        #expect(writes.idempotency?.response == Self.verification().withoutSecrets)
        #expect(writes.idempotency?.requestHash == [1])
        #expect(writes.idempotency?.createdAt == Self.t0)
    }

    @Test func startReplaysALiveKeyWithTheSameRequestAndRefusesAnotherRequest() {
        let stored = Self.record()
        #expect(StartDecider.decide(Self.start(key: "k"), StartDecider.Loaded(idempotency: stored)) == .replay(stored.response))
        #expect(StartDecider.decide(Self.start(key: "k", hash: [2]), StartDecider.Loaded(idempotency: stored)) == .refuse(.idempotencyKeyReused))
    }

    @Test func startReplacesAnExpiredKey() {
        let old = Self.record(hash: [2], createdAt: Self.t0 - IdempotencyRecord.defaultWindow)
        guard case .create(let writes) = StartDecider.decide(Self.start(key: "k"), StartDecider.Loaded(idempotency: old)) else {
            Issue.record("not created")
            return
        }
        #expect(writes.idempotency?.requestHash == [1])
    }

    @Test func startRuleOrderReplayThenLockThenLimit() {
        let locked = Self.t0 + .seconds(10)
        let full = StartDecider.RecentStarts(count: 2, oldest: Self.t0 - .seconds(100))
        // A replay wins over a lock and a full window: the first response is returned, nothing is sent.
        let stored = Self.record()
        #expect(
            StartDecider.decide(Self.start(key: "k"), StartDecider.Loaded(idempotency: stored, lockedUntil: locked, recentStarts: full))
                == .replay(stored.response))
        // A lock wins over a full window.
        #expect(
            StartDecider.decide(Self.start(), StartDecider.Loaded(lockedUntil: locked, recentStarts: full))
                == .refuse(.destinationLocked(retryAfter: .seconds(10))))
        // A lock that ended is no lock.
        #expect(StartDecider.decide(Self.start(), StartDecider.Loaded(lockedUntil: Self.t0)) != .refuse(.destinationLocked(retryAfter: .zero)))
        // The window frees up when its oldest start leaves it.
        #expect(
            StartDecider.decide(Self.start(), StartDecider.Loaded(recentStarts: full)) == .refuse(.destinationRateLimited(retryAfter: .seconds(500))))
        if case .create = StartDecider.decide(Self.start(), StartDecider.Loaded(recentStarts: .init(count: 1, oldest: Self.t0))) {
        } else {
            Issue.record("one start in the window of two refused")
        }
    }

    @Test func startLimitWaitsAtLeastOneSecond() {
        let full = StartDecider.RecentStarts(count: 2, oldest: Self.t0 - .seconds(600) + .milliseconds(1))
        #expect(
            StartDecider.decide(Self.start(), StartDecider.Loaded(recentStarts: full)) == .refuse(.destinationRateLimited(retryAfter: .seconds(1))))
    }

    @Test func earlierStartsOfABatchCountOnlyInsideTheWindow() {
        let command = Self.start()
        let counted = StartDecider.RecentStarts(count: 1, oldest: Self.t0 - .seconds(50))
            .adding([Self.t0 - .seconds(700), Self.t0 - .seconds(100), Self.t0], for: command)
        #expect(counted == StartDecider.RecentStarts(count: 3, oldest: Self.t0 - .seconds(100)))
        #expect(StartDecider.windowStart(of: command) == Self.t0 - .seconds(600))
    }

    // MARK: check

    static func check(hash: [UInt8] = hash, tenant: String = "ten_a", at now: Timestamp = t0 + .seconds(1)) -> CheckCommand {
        CheckCommand(id: "vrf_1", tenantID: tenant, candidateHash: hash, now: now, policy: policy(), keyRequest: nil)
    }

    @Test func checkApprovesTheRightCodeAndEndsTheFailureRun() {
        let run = DestinationState(tenantID: "ten_a", destinationKey: "+919876543210", failedChecks: 1, firstFailureAt: Self.t0)
        guard case .apply(let writes) = CheckDecider.decide(Self.check(), verification: Self.verification(), destination: run) else {
            Issue.record("refused")
            return
        }
        #expect(writes.verification.state == .approved)
        #expect(writes.verification.attempts == 1)
        #expect(writes.outcome == .approved(writes.verification))
        #expect(writes.destination == DestinationState(tenantID: "ten_a", destinationKey: "+919876543210"))
        // Without a failure run there is nothing to write for the destination.
        guard case .apply(let clean) = CheckDecider.decide(Self.check(), verification: Self.verification(), destination: nil) else { return }
        #expect(clean.destination == nil)
    }

    @Test func checkCountsAWrongCodeAgainstTheVerificationAndTheDestination() {
        guard case .apply(let writes) = CheckDecider.decide(Self.check(hash: Self.otherHash), verification: Self.verification(), destination: nil)
        else {
            Issue.record("refused")
            return
        }
        #expect(writes.verification.state == .pending)
        #expect(writes.verification.attempts == 1)
        #expect(writes.outcome == .incorrect(writes.verification))
        #expect(writes.destination?.failedChecks == 1)
        // The second failure (the policy's threshold) locks the destination and starts a new run.
        guard
            case .apply(let second) = CheckDecider.decide(
                Self.check(hash: Self.otherHash), verification: writes.verification, destination: writes.destination)
        else { return }
        #expect(second.destination?.lockedUntil == Self.t0 + .seconds(1) + .seconds(900))
        #expect(second.destination?.failedChecks == 0)
    }

    @Test func checkRuleOrder() {
        let lock = DestinationState(tenantID: "ten_a", destinationKey: "+919876543210", lockedUntil: Self.t0 + .seconds(100))
        // Another tenant's verification does not exist for the caller, whatever its state.
        #expect(CheckDecider.decide(Self.check(tenant: "ten_b"), verification: Self.verification(), destination: lock) == .refuse(.notFound))
        #expect(CheckDecider.decide(Self.check(), verification: nil, destination: nil) == .refuse(.notFound))
        // State before lock.
        #expect(CheckDecider.decide(Self.check(), verification: Self.verification(state: .approved), destination: lock) == .refuse(.alreadyApproved))
        #expect(CheckDecider.decide(Self.check(), verification: Self.verification(state: .canceled), destination: lock) == .refuse(.canceled))
        #expect(CheckDecider.decide(Self.check(), verification: Self.verification(state: .expired), destination: lock) == .refuse(.expired))
        // Expiry before spent attempts, spent attempts before the lock; the right code is refused too.
        #expect(
            CheckDecider.decide(Self.check(at: Self.t0 + .seconds(300)), verification: Self.verification(attempts: 3), destination: lock)
                == .refuse(.expired))
        #expect(CheckDecider.decide(Self.check(), verification: Self.verification(attempts: 3), destination: lock) == .refuse(.maxAttemptsReached))
        // The lock before the code: the right code is refused while the destination is locked.
        #expect(
            CheckDecider.decide(Self.check(), verification: Self.verification(), destination: lock)
                == .refuse(.destinationLocked(retryAfter: .seconds(99))))
    }

    @Test func aFailureRunOlderThanItsWindowStartsOver() {
        let policy = Self.policy()
        let old = DestinationState(tenantID: "t", destinationKey: "d", failedChecks: 1, firstFailureAt: Self.t0 - .seconds(3600))
        let next = DestinationRules.afterFailedCheck(old, now: Self.t0, policy: policy)
        #expect(next.failedChecks == 1)
        #expect(next.firstFailureAt == Self.t0)
        #expect(next.lockedUntil == nil)
    }

    // MARK: resend

    static func resend(channel: Channel? = nil, tenant: String = "ten_a", at now: Timestamp = t0 + .seconds(30)) -> ResendCommand {
        ResendCommand(
            id: "vrf_1", tenantID: tenant, channel: channel, codeHash: otherHash, message: message(send: 2), now: now, policy: policy(),
            keyRequest: nil)
    }

    @Test func resendRenewsTheCodeKeepsAttemptsAndRenumbersTheMessage() {
        // Another resend came first: the stored verification has sent 2 codes, so this message is the third.
        let v = Self.verification(attempts: 2, sends: 2)
        guard case .apply(let writes) = ResendDecider.decide(Self.resend(), verification: v, destination: nil) else {
            Issue.record("refused")
            return
        }
        let now = Self.t0 + .seconds(30)
        #expect(writes.verification.codeHash == Data(Self.otherHash))
        #expect(writes.verification.attempts == 2)
        #expect(writes.verification.sends == 3)
        #expect(writes.verification.expiresAt == now + .seconds(300))
        #expect(writes.verification.resendAvailableAt == now + Self.policy().resendCooldown(afterSends: 3))
        #expect(writes.message?.id == NewOutboxMessage.id(verificationID: "vrf_1", send: 3))
        #expect(writes.message?.expiresAt == now + .seconds(300))
        #expect(writes.supersedesMessagesOf == "vrf_1")
    }

    @Test func resendRuleOrder() {
        let lock = DestinationState(tenantID: "ten_a", destinationKey: "+919876543210", lockedUntil: Self.t0 + .seconds(100))
        let v = Self.verification()
        #expect(ResendDecider.decide(Self.resend(tenant: "ten_b"), verification: v, destination: lock) == .refuse(.notFound))
        // The channel before the state.
        #expect(
            ResendDecider.decide(Self.resend(channel: .email), verification: Self.verification(state: .approved), destination: lock)
                == .refuse(.channelMismatch))
        #expect(
            ResendDecider.decide(Self.resend(), verification: Self.verification(state: .approved), destination: lock) == .refuse(.alreadyApproved))
        #expect(ResendDecider.decide(Self.resend(), verification: Self.verification(attempts: 3), destination: lock) == .refuse(.maxAttemptsReached))
        // Sends before the cooldown, the cooldown before the lock.
        #expect(
            ResendDecider.decide(Self.resend(at: Self.t0 + .seconds(1)), verification: Self.verification(sends: 3), destination: lock)
                == .refuse(.maxSendsReached))
        #expect(
            ResendDecider.decide(Self.resend(at: Self.t0 + .seconds(1)), verification: v, destination: lock)
                == .refuse(.resendCooldown(retryAfter: .seconds(29))))
        #expect(ResendDecider.decide(Self.resend(), verification: v, destination: lock) == .refuse(.destinationLocked(retryAfter: .seconds(70))))
    }

    // MARK: cancel

    @Test func cancelRules() {
        let now = Self.t0 + .seconds(1)
        guard case .apply(let writes) = CancelDecider.decide(tenantID: "ten_a", now: now, verification: Self.verification(attempts: 3)) else {
            Issue.record("a verification with spent attempts could not be canceled")
            return
        }
        #expect(writes.verification.state == .canceled)
        #expect(writes.verification.updatedAt == now)
        #expect(writes.supersedesMessagesOf == "vrf_1")
        #expect(CancelDecider.decide(tenantID: "ten_b", now: now, verification: Self.verification()) == .refuse(.notFound))
        #expect(CancelDecider.decide(tenantID: "ten_a", now: now, verification: Self.verification(state: .approved)) == .refuse(.alreadyApproved))
        #expect(CancelDecider.decide(tenantID: "ten_a", now: now, verification: Self.verification(state: .canceled)) == .refuse(.canceled))
        #expect(CancelDecider.decide(tenantID: "ten_a", now: Self.t0 + .seconds(300), verification: Self.verification()) == .refuse(.expired))
    }

    // MARK: per-key request limit

    @Test func keyRequestLimitRefusesPastTheLimitUntilTheNextSecond() {
        let request = KeyRequest(keyID: "key_1", limitPerSecond: 2, now: Timestamp(milliseconds: 5_250))
        #expect(KeyRequestLimit.refusal(count: 2, for: request) == nil)
        #expect(KeyRequestLimit.refusal(count: 3, for: request) == .keyRateLimited(retryAfter: .milliseconds(750)))
        #expect(KeyRequestLimit.window(request.now) == 5)
    }

    @Test func aBatchCountsItsRequestsInOrder() {
        let a = KeyRequest(keyID: "a", limitPerSecond: 2, now: Timestamp(milliseconds: 1_000))
        let b = KeyRequest(keyID: "b", limitPerSecond: 1, now: Timestamp(milliseconds: 1_500))
        let requests: [KeyRequest?] = [a, b, nil, a, a, b]
        let counts = KeyRequestLimit.batchCounts(requests)
        #expect(counts["a"] == KeyRequestLimit.BatchCount(count: 3, window: 1))
        #expect(counts["b"] == KeyRequestLimit.BatchCount(count: 2, window: 1))
        // Key a had 0 before the batch (total 3), key b had 5 (total 7).
        let refusals = KeyRequestLimit.refusals(requests, counts: counts, totals: ["a": 3, "b": 7])
        #expect(refusals.map { $0 != nil } == [false, true, false, false, true, true])
    }

    // MARK: tokens

    static func claims(tenant: String = "ten_a", exp: Int64, purpose: String? = "login") -> VerificationClaims {
        VerificationClaims(iss: "otpgate", sub: "vrf_1", tenantID: tenant, jti: "tok_1", iat: exp - 300, exp: exp, purpose: purpose, amr: ["otp"])
    }

    @Test func tokenRuleOrder() {
        let now = Self.t0
        let live = Self.claims(exp: now.seconds + 10)
        #expect(TokenDecider.rejection(live, tenantID: "ten_a", purpose: "login", now: now) == nil)
        #expect(TokenDecider.rejection(live, tenantID: "ten_a", purpose: nil, now: now) == nil)
        #expect(TokenDecider.rejection(Self.claims(exp: now.seconds), tenantID: "ten_b", purpose: "x", now: now) == .tenantMismatch)
        #expect(TokenDecider.rejection(Self.claims(exp: now.seconds), tenantID: "ten_a", purpose: "x", now: now) == .expired)
        #expect(TokenDecider.rejection(live, tenantID: "ten_a", purpose: "payment", now: now) == .purposeMismatch)
        #expect(
            TokenDecider.consumption(live, now: now)
                == ConsumedToken(jti: "tok_1", tenantID: "ten_a", expiresAt: Timestamp(seconds: now.seconds + 10), consumedAt: now))
    }

    // MARK: sweep and delivery

    @Test func sweepCutoffs() {
        let plan = SweepDecider.plan(now: Self.t0, retention: .seconds(7 * 86_400), batchSize: 50)
        #expect(plan.expireBefore == Self.t0)
        #expect(plan.idempotencyBefore == Self.t0 - .seconds(86_400))
        #expect(plan.consumedTokensBefore == Self.t0)
        #expect(plan.keyCounterWindowsBefore == Self.t0.seconds - 60)
        #expect(plan.finishedBefore == Self.t0 - .seconds(7 * 86_400))
        #expect(plan.unlockedBefore == Self.t0)
        #expect(plan.batchSize == 50)
    }

    @Test func deliveryRetriesWithBackoffThenGivesUp() {
        var m = OutboxMessage(
            id: "vrf_1.1", tenantID: "ten_a", verificationID: "vrf_1", channel: .sms, sealedPayload: [1], state: .sending, attempts: 1,
            createdAt: Self.t0, nextAttemptAt: Self.t0, expiresAt: Self.t0 + .seconds(300))
        let retryable = DeliveryError(retryable: true, reason: "timeout")
        // Equal jitter: half the step fixed, half random (jitter 0 → half, jitter → 1 → the whole step).
        #expect(
            DeliveryDecider.afterFailure(m, error: retryable, now: Self.t0, maxAttempts: 3, jitter: 0)
                == .retry(at: Self.t0 + .seconds(1), error: "timeout"))
        #expect(
            DeliveryDecider.afterFailure(m, error: retryable, now: Self.t0, maxAttempts: 3, jitter: 0.5)
                == .retry(at: Self.t0 + .milliseconds(1500), error: "timeout"))
        m.attempts = 2
        #expect(
            DeliveryDecider.afterFailure(m, error: retryable, now: Self.t0, maxAttempts: 3, jitter: 0.999)
                == .retry(at: Self.t0 + .milliseconds(3998), error: "timeout"))
        // The step stops growing at 256 s.
        #expect(DeliveryDecider.backoff(afterAttempt: 20, jitter: 0) == .seconds(128))
        m.attempts = 3
        #expect(DeliveryDecider.afterFailure(m, error: retryable, now: Self.t0, maxAttempts: 3) == .failed(error: "timeout"))
        m.attempts = 1
        #expect(
            DeliveryDecider.afterFailure(m, error: DeliveryError(retryable: false, reason: "refused"), now: Self.t0, maxAttempts: 3)
                == .failed(error: "refused"))
        #expect(!DeliveryDecider.isExpired(m, now: Self.t0 + .seconds(299)))
        #expect(DeliveryDecider.isExpired(m, now: Self.t0 + .seconds(300)))
    }
}
