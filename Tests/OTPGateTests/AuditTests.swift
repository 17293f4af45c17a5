import Foundation
import GRDB
import HTTPTypes
import OTPGateCore
import OTPGateTokens
import Synchronization
import Testing

@testable import OTPGateServer

/// Issue 16's audit log: security events written with their event, chained per tenant by the background linker with
/// signed checkpoints, paged by `GET /v1/audit`, and any edit, insertion, deletion or truncation detected.
@Suite(.timeLimit(.minutes(3))) struct AuditTests {
    @Test(arguments: Backend.available) func securityEventsAreWrittenWithTheirEventAndChained(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let other = try await h.makeTenant("other")
        try await h.test { (client: TestClient) async throws in
            let started = try await client.post("/v1/verifications", #"{"to":"+919876543210","channel":"sms"}"#)
            let id = try #require(started.string("id"))
            let requestID = started.headers[HTTPField.Name("X-Request-Id")!]
            await h.deliver()
            let code = try #require(h.sender.code(for: id))
            #expect(try await client.check(id, wrongCode(for: code)).status == .unprocessableContent)
            let approved = try await client.check(id, code)
            let token = try #require(approved.string("token"))
            #expect(try await client.post("/v1/tokens/verify", #"{"token":"\#(token)","consume":true}"#).status == .ok)
            // Entries are listed once the linker has chained them, under a signed checkpoint.
            let before = try await client.get("/v1/audit")
            #expect(before.json?.member("entries") == .array([]))
            #expect(await h.runtime.auditLinker.linkOnce().signed == 1)
            let page = try await client.get("/v1/audit")
            guard case .array(let entries)? = page.json?.member("entries") else { throw TestFailure("no entries") }
            #expect(
                entries.compactMap { $0.member("action") } == [
                    .string("verification.started"), .string("verification.check_failed"), .string("verification.approved"),
                    .string("token.consumed"),
                ])
            let first = try #require(entries.first)
            #expect(first.member("masked_destination") == .string("+91******3210"))
            #expect(first.member("subject") == .string(id))
            #expect(first.member("request_id") == requestID.map(JSONValue.string))
            if case .string(let actor)? = first.member("actor") { #expect(actor.hasPrefix("key_")) } else { Issue.record("no actor") }
            #expect(first.member("detail")?.member("test") == .bool(false))
            #expect(entries.compactMap { $0.member("seq")?.intValue } == [1, 2, 3, 4])
            // Paging, and another tenant sees none of it.
            let paged = try await client.get("/v1/audit?limit=2")
            #expect(paged.json?.member("next_after") == .int(2))
            let second = try await client.get("/v1/audit?limit=2&after=2")
            guard case .array(let rest)? = second.json?.member("entries") else { throw TestFailure("no second page") }
            #expect(rest.compactMap { $0.member("seq")?.intValue } == [3, 4])
            #expect(try await client.get("/v1/audit?limit=0").status == .unprocessableContent)
            let theirs = try await client.get("/v1/audit", key: .some(other.apiKey))
            #expect(theirs.json?.member("entries") == .array([]))
        }
        let report = try await AuditVerifier(store: h.store, signer: h.runtime.signer).verify(tenantID: h.tenant.id)
        #expect(report.problems.isEmpty)
        #expect(report.checkedUpTo == 4 && report.entries == 4 && report.uncovered == 0)
        // A second round with nothing new signs nothing.
        #expect(await h.runtime.auditLinker.linkOnce().signed == 0)
    }

    /// Keys, credentials, settings, templates, the webhook, holds and test destinations: each change is audited with its
    /// actor (the API key, `cli`, `system`), in its own transaction, and a change that changed nothing writes nothing.
    @Test(arguments: Backend.available) func administrativeChangesAreAudited(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let tenantID = h.tenant.id
        let admin = TenantAdmin(store: h.store, clock: h.clock, random: SeededRandom(seed: 5), audit: .cli)
        let key = try await admin.createKey(tenantID: tenantID)
        #expect(try await admin.revokeKey(id: key.keyID))
        #expect(try await admin.revokeKey(id: key.keyID) == false)
        let signer = try #require(h.runtime.signer as? JWTTokenSigner)
        let credential = try await CredentialAdmin(store: h.store, signer: signer, issuer: "otpgate", clock: h.clock, audit: .cli)
            .create(tenantID: tenantID, profile: "surepass", options: .init(), cipher: h.engine.cipher)
        #expect(try await admin.revokeKey(id: credential.credentialID, credential: true))
        var overrides = PolicyOverrides()
        overrides.pumpingMinSends = 3
        overrides.pumpingMinApprovalPercent = 50
        overrides.startsPerDestination = 1
        let policyEntry = AuditActor.cli.entry(
            AuditAction.policyChanged, tenantID: tenantID, subject: tenantID, at: h.clock.now(), detail: ["overrides": overrides.json])
        #expect(try await h.store.updateTenantPolicy(id: tenantID, overrides: overrides, audit: policyEntry))
        #expect(try await h.store.updateTenantPolicy(id: "ten_missing", overrides: overrides, audit: policyEntry) == false)
        let tests = TestDestinationAdmin(store: h.store, cipher: h.engine.cipher, production: false, audit: .cli)
        let qa = try Destination.parse("+919999900001", channel: .sms)
        _ = try await tests.add(tenantID: tenantID, destination: qa, code: "480913", allowInProduction: false, now: h.clock.now())
        #expect(try await tests.remove(tenantID: tenantID, destination: qa, now: h.clock.now()))
        #expect(try await tests.remove(tenantID: tenantID, destination: qa, now: h.clock.now()) == false)
        let webhookSecret = Mutex("")
        try await h.test { (client: TestClient) async throws in
            let template = try await client.call(.put, "/v1/templates/login/en/sms", json: #"{"body":"{{code}} is your code"}"#)
            #expect(template.status == .ok)
            #expect(try await client.call(.delete, "/v1/templates/login/en/sms").status == .noContent)
            #expect(try await client.call(.delete, "/v1/templates/login/en/sms").status == .notFound)
            let hook = try await client.call(
                .put, "/v1/webhook", json: #"{"url":"https://hooks.example.com?token=s3cr3t","events":["verification.approved"]}"#)
            let secret = try #require(hook.string("secret"))
            webhookSecret.withLock { $0 = secret }
            #expect(try await client.call(.delete, "/v1/webhook").status == .noContent)
            // Three unchecked starts to one prefix trip the guard (the system's entry); the tenant's key releases it.
            for n in 0..<4 { _ = try await client.post("/v1/verifications", #"{"to":"+91701234\#(String(format: "%04d", n))","channel":"sms"}"#) }
            #expect(try await client.call(.delete, "/v1/abuse/holds/+9170").status == .noContent)
            #expect(try await client.call(.delete, "/v1/abuse/holds/+9170").status == .notFound)
        }
        await h.runtime.auditLinker.linkOnce()
        let entries = try await h.store.auditEntries(tenantID: tenantID, afterSeq: 0, limit: 100).filter {
            !$0.action.hasPrefix("verification.")
        }
        #expect(
            entries.map(\.action) == [
                "api_key.created", "api_key.revoked", "credential.created", "credential.revoked", "settings.policy_changed",
                "test_destination.added", "test_destination.removed", "template.saved", "template.deleted", "webhook.saved",
                "webhook.deleted", "abuse_hold.created", "abuse_hold.released",
            ])
        #expect(entries.prefix(7).allSatisfy { $0.actor == "cli" && $0.requestID == nil })
        #expect(entries[0].subject == key.keyID && entries[1].subject == key.keyID && entries[2].subject == credential.credentialID)
        #expect(entries[5].masked == qa.masked && entries[5].subject == qa.masked)
        let apiActor = try #require(entries.dropFirst(7).first?.actor)
        #expect(apiActor.hasPrefix("key_"))
        #expect(entries.dropFirst(7).allSatisfy { $0.requestID != nil })
        #expect(entries[7].subject == "login/en/sms")
        #expect(entries[9].detail?.contains(#""host":"hooks.example.com""#) == true)
        #expect(entries[11].actor == "system" && entries[11].subject == "+9170" && entries[12].actor == apiActor)
        // No secret and no full destination in any entry.
        let text = entries.map { [$0.subject, $0.masked ?? "", $0.detail ?? ""].joined(separator: " ") }.joined(separator: "\n")
        for secret in ["s3cr3t", webhookSecret.withLock { $0 }, key.apiKey, credential.token, "9999900001", "480913"] {
            #expect(!text.contains(secret))
        }
        // The changes are chained like every other entry.
        await h.runtime.auditLinker.linkOnce()
        #expect(try await AuditVerifier(store: h.store, signer: h.runtime.signer).verify(tenantID: tenantID).problems.isEmpty)
    }

    /// One year by default: the sweep cuts each tenant's log at its newest checkpoint signed before then, keeping that
    /// checkpoint, so what is kept still verifies from its signed hash; anchors kept outside the database still hold.
    @Test(arguments: Backend.available) func retentionPurgesOnlyUpToACheckpointAndTheRestStillVerifies(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        let verifier = AuditVerifier(store: h.store, signer: h.runtime.signer)
        func starts(_ count: Int, from first: Int) async throws {
            try await h.test { (client: TestClient) async throws in
                for n in first..<(first + count) { _ = try await client.start(to: "+91987654\(String(format: "%04d", n))") }
            }
            await h.runtime.auditLinker.linkOnce()
        }
        func cutoff() -> Timestamp { h.clock.now() - .seconds(365 * 86_400) }
        try await starts(3, from: 0)
        let early = try await verifier.verify(tenantID: h.tenant.id)
        let anchor2 = AuditChain.Anchor(seq: 2, hash: try #require(try await h.store.auditChain(tenantID: h.tenant.id).entries[1].hash))
        #expect(early.checkedUpTo == 3)
        h.clock.advance(.seconds(86_400))
        try await starts(2, from: 3)
        // Nothing is old enough yet.
        await h.runtime.sweeper.sweepOnce()
        #expect(try await h.store.auditChain(tenantID: h.tenant.id).entries.count == 5)
        // A year after the first checkpoint: the entries it covers go, the checkpoint stays.
        h.clock.advance(.seconds(364 * 86_400 + 3600))
        await h.runtime.sweeper.sweepOnce()
        var kept = try await h.store.auditChain(tenantID: h.tenant.id)
        #expect(kept.entries.compactMap(\.seq) == [4, 5])
        #expect(kept.checkpoints.map(\.seq) == [3, 5])
        let report = try await verifier.verify(tenantID: h.tenant.id, anchors: [anchor2], purgeCutoff: cutoff())
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.checkedUpTo == 5 && report.entries == 2 && report.anchorsPurged == 1)
        // An anchor the chain still holds passes; a forged one does not.
        let head = AuditChain.Anchor(seq: 5, hash: report.checkedHash)
        #expect(try await verifier.verify(tenantID: h.tenant.id, anchors: [head], purgeCutoff: cutoff()).problems.isEmpty)
        let forged = AuditChain.Anchor(seq: 4, hash: AuditChain.genesis)
        #expect(try await verifier.verify(tenantID: h.tenant.id, anchors: [forged]).problems.first?.reason.contains("anchor") == true)
        let beyond = AuditChain.Anchor(seq: 9, hash: report.checkedHash)
        #expect(try await verifier.verify(tenantID: h.tenant.id, anchors: [beyond]).problems.first?.reason.contains("truncated") == true)
        // A day later the second checkpoint is a year old too.
        h.clock.advance(.seconds(86_400))
        await h.runtime.sweeper.sweepOnce()
        kept = try await h.store.auditChain(tenantID: h.tenant.id)
        #expect(kept.entries.isEmpty && kept.checkpoints.map(\.seq) == [5])
        #expect(try await verifier.verify(tenantID: h.tenant.id, purgeCutoff: cutoff()).problems.isEmpty)
        #expect(try await h.store.auditTenants() == [h.tenant.id])
        try await starts(2, from: 5)
        let grown = try await verifier.verify(tenantID: h.tenant.id, purgeCutoff: cutoff())
        #expect(grown.problems.isEmpty && grown.checkedUpTo == 7, "\(grown.problems)")
        // Entries deleted from the front outside a purge: after no checkpoint, or up to one within the retention.
        if backend == .sqlite {
            let queue = try DatabaseQueue(path: h.directory.appendingPathComponent("otpgate.sqlite").path)
            try await queue.write { db in try db.execute(sql: "DELETE FROM audit_entries WHERE seq = 6") }
            let unpinned = try await verifier.verify(tenantID: h.tenant.id, purgeCutoff: cutoff())
            #expect(unpinned.problems.first?.reason.contains("no signed checkpoint") == true, "\(unpinned.problems)")
            try await queue.write { db in try db.execute(sql: "DELETE FROM audit_entries; DELETE FROM audit_checkpoints WHERE seq = 5") }
            let early = try await verifier.verify(tenantID: h.tenant.id, purgeCutoff: cutoff())
            #expect(early.problems.first?.reason.contains("deleted early") == true, "\(early.problems)")
        }
    }

    /// Two linkers at once (two instances on PostgreSQL, or a second one on the same SQLite file): each entry is
    /// chained once, with no gap or repeat, whichever of them linked it; the loser of a race links nothing.
    @Test(arguments: Backend.available) func twoLinkersAtOnceChainEachEntryOnce(backend: Backend) async throws {
        let h = try await Harness.make(backend: backend)
        var first = h.runtime.auditLinker
        first.entriesPerTenant = 7
        let second = first
        for round in 0..<3 {
            try await h.test { (client: TestClient) async throws in
                for n in 0..<20 { _ = try await client.start(to: "+919876\(round)\(String(format: "%05d", n))") }
            }
            async let a = first.linkOnce()
            async let b = second.linkOnce()
            _ = await (a, b)
            while !(await first.linkOnce().caughtUp) {}
        }
        let chain = try await h.store.auditChain(tenantID: h.tenant.id)
        #expect(chain.entries.compactMap(\.seq) == Array(1...60))
        let report = try await AuditVerifier(store: h.store, signer: h.runtime.signer).verify(tenantID: h.tenant.id)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.checkedUpTo == 60)
    }

    /// A round larger than one update statement (128 rows) and than one hashing slice (100 entries): every entry is
    /// chained once, in order, and the chain verifies.
    @Test(arguments: Backend.available) func aLargeRoundChainsEveryEntryOnce(backend: Backend) async throws {
        let h = try await Harness.make(
            backend: backend, environment: ["OTPGATE_POLICY_PUMPING_GUARD": "off", "OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND": "1000"])
        try await h.test { (client: TestClient) async throws in
            for n in 0..<300 { _ = try await client.start(to: "+91987654\(String(format: "%04d", n))") }
        }
        let round = await h.runtime.auditLinker.linkOnce()
        #expect(round.caughtUp && round.signed == 1)
        let chain = try await h.store.auditChain(tenantID: h.tenant.id)
        #expect(chain.entries.compactMap(\.seq) == Array(1...300))
        let report = try await AuditVerifier(store: h.store, signer: h.runtime.signer).verify(tenantID: h.tenant.id)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.checkedUpTo == 300)
    }

    /// Hashing a slice at a time gives exactly the chain of hashing all at once, whatever the slice boundaries.
    @Test(arguments: [0, 1, 99, 100, 101, 250])
    func linkingInSlicesIsLinkingAtOnce(count: Int) async {
        let entries = (0..<count).map { n in
            AuditEntry(
                id: Int64(n + 1), tenantID: "ten_a", at: Timestamp(seconds: 1_800_000_000 + Int64(n)), action: "verification.started",
                actor: "key_1", subject: "vrf_\(n)")
        }
        let head: (seq: Int64, hash: [UInt8]) = (41, [UInt8](repeating: 7, count: 32))
        let sliced = await AuditChain.linkYielding(entries, after: head, slice: 100)
        let whole = AuditChain.link(entries, after: head)
        #expect(sliced.map(\.seq) == whole.map(\.seq))
        #expect(sliced.map(\.hash) == whole.map(\.hash))
        #expect(sliced.first?.seq == (count > 0 ? 42 : nil))
    }

    /// More new entries than one batch: the linker goes again at once instead of waiting for its next second.
    @Test func theLinkerKeepsUpWithMoreEntriesThanOneBatch() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            for n in 0..<5 { _ = try await client.start(to: "+91987654\(String(format: "%04d", n))") }
        }
        var linker = h.runtime.auditLinker
        linker.entriesPerTenant = 2
        #expect(await linker.linkOnce().caughtUp == false)
        #expect(await linker.linkOnce().caughtUp == false)
        let last = await linker.linkOnce()
        #expect(last.caughtUp && last.signed == 1)
        #expect(try await AuditVerifier(store: h.store, signer: h.runtime.signer).verify(tenantID: h.tenant.id).checkedUpTo == 5)
    }

    @Test func withAuditingOffNothingIsWritten() async throws {
        let h = try await Harness.make(environment: ["OTPGATE_AUDIT": "off"])
        try await h.test { (client: TestClient) async throws in
            _ = try await client.start(to: "+919876543210")
            #expect(try await client.call(.put, "/v1/templates/login/en/sms", json: #"{"body":"{{code}} is your code"}"#).status == .ok)
        }
        await h.runtime.auditLinker.linkOnce()
        #expect(try await h.store.auditChain(tenantID: h.tenant.id).entries.isEmpty)
    }

    @Test func editsInsertionsDeletionsAndTruncationAreDetected() async throws {
        let h = try await Harness.make()
        try await h.test { (client: TestClient) async throws in
            for n in 0..<6 { _ = try await client.start(to: "+91987654\(String(format: "%04d", n))") }
        }
        await h.runtime.auditLinker.linkOnce()
        let verifier = AuditVerifier(store: h.store, signer: h.runtime.signer)
        #expect(try await verifier.verify(tenantID: h.tenant.id).problems.isEmpty)
        let queue = try DatabaseQueue(path: h.directory.appendingPathComponent("otpgate.sqlite").path)
        // Each tampering is undone from a copy of the tables before the next.
        try await queue.write { db in
            try db.execute(
                sql: "CREATE TABLE entries_copy AS SELECT * FROM audit_entries; CREATE TABLE checkpoints_copy AS SELECT * FROM audit_checkpoints")
        }
        func restore() async throws {
            try await queue.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM audit_entries; INSERT INTO audit_entries SELECT * FROM entries_copy;
                        DELETE FROM audit_checkpoints; INSERT INTO audit_checkpoints SELECT * FROM checkpoints_copy
                        """)
            }
            #expect(try await verifier.verify(tenantID: h.tenant.id).problems.isEmpty)
        }
        func problems(after sql: String) async throws -> [AuditChain.Problem] {
            try await queue.write { db in try db.execute(sql: sql) }
            let found = try await verifier.verify(tenantID: h.tenant.id).problems
            try await restore()
            return found
        }
        #expect(try await problems(after: "UPDATE audit_entries SET actor = 'key_someone_else' WHERE seq = 3").first?.seq == 3)
        #expect(try await problems(after: "DELETE FROM audit_entries WHERE seq = 2").first?.reason.contains("missing") == true)
        // A checkpoint's time is signed too: backdating it (to pass a purge off as due) breaks its signature.
        #expect(
            try await problems(after: "UPDATE audit_checkpoints SET at = at - 400 * 86400000").first?.reason.contains("signature") == true)
        #expect(
            try await problems(
                after: """
                    UPDATE audit_entries SET seq = -seq WHERE seq >= 4; UPDATE audit_entries SET seq = 1 - seq WHERE seq < 0;
                    INSERT INTO audit_entries (tenant_id, at, action, actor, subject, seq, hash)
                        SELECT tenant_id, at, action, actor, 'vrf_forged', 4, hash FROM entries_copy WHERE seq = 4
                    """
            ).first?.seq == 4)
        #expect(try await problems(after: "DELETE FROM audit_entries WHERE seq >= 5").first?.reason.contains("truncated") == true)
        #expect(try await problems(after: "UPDATE audit_checkpoints SET signature = signature || 'x'").first?.reason.contains("signature") == true)
    }

    @Test func anchorsAreReadAsSeqColonHash() {
        let hash = String(repeating: "ab", count: 32)
        let anchor = AuditChain.Anchor("12:" + hash.uppercased())
        #expect(anchor?.seq == 12 && anchor?.hash == [UInt8](repeating: 0xAB, count: 32))
        #expect(anchor?.text == "12:" + hash)
        for bad in [
            "12", "0:" + hash, "-1:" + hash, "12:" + hash.dropLast(), "12:" + hash + "00", "x:" + hash, "12:" + hash.dropLast() + "g", "12:\(hash):1",
        ] {
            #expect(AuditChain.Anchor(bad) == nil, "\(bad)")
        }
    }

    @Test func theChainRuleFindsEachKindOfTampering() {
        let entries = (1...5).map { n in
            AuditEntry(
                id: Int64(n), tenantID: "ten_a", at: Timestamp(seconds: 1_800_000_000 + Int64(n)), action: "verification.started", actor: "key_1",
                subject: "vrf_\(n)")
        }
        let linked = AuditChain.link(entries, after: (0, AuditChain.genesis))
        let head = AuditCheckpoint(tenantID: "ten_a", seq: 5, hash: linked[4].hash ?? [], at: Timestamp(seconds: 0), signature: "")
        func problems(_ chain: [AuditEntry]) -> [AuditChain.Problem] {
            AuditChain.verify(entries: chain, checkpoints: [head]) { _ in true }.problems
        }
        #expect(problems(linked).isEmpty)
        // The hashed form is the canonical JSON of the entry's fields, escapes and all.
        let full = AuditEntry(
            tenantID: "ten_\"a\\", at: Timestamp(milliseconds: 1_800_000_000_123), action: "verification.started", actor: "key_1",
            subject: "vrf_\n1", masked: "+91******3210", requestID: "req\u{1}", detail: #"{"test":false}"#)
        let object: JSONValue = .object([
            "seq": .int(7), "tenant_id": .string(full.tenantID), "at": .int(1_800_000_000_123), "action": .string(full.action),
            "actor": .string(full.actor), "subject": .string(full.subject), "masked": .string("+91******3210"),
            "request_id": .string("req\u{1}"), "detail": .string(#"{"test":false}"#),
        ])
        #expect(AuditChain.canonical(full, seq: 7) == object.serialized)
        #expect(
            AuditChain.canonical(entries[0], seq: 1)
                == JSONValue.object([
                    "seq": .int(1), "tenant_id": .string("ten_a"), "at": .int(Int(entries[0].at.milliseconds)),
                    "action": .string("verification.started"),
                    "actor": .string("key_1"), "subject": .string("vrf_1"),
                ]).serialized)
        var edited = linked
        edited[1].subject = "vrf_other"
        #expect(problems(edited).first?.seq == 2)
        var inserted = linked
        var extra = linked[2]
        extra.subject = "vrf_inserted"
        inserted.insert(extra, at: 2)
        #expect(!problems(inserted).isEmpty)
        #expect(problems(Array(linked.prefix(3))).contains { $0.reason.contains("truncated") })
        #expect(problems(linked.enumerated().filter { $0.offset != 1 }.map(\.element)).first?.reason.contains("missing") == true)
        #expect(AuditChain.verify(entries: linked, checkpoints: [head]) { _ in false }.problems.count == 1)
    }
}
