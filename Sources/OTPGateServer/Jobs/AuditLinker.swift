import Logging
public import OTPGateCore
public import ServiceLifecycle

/// Chains new audit entries per tenant, in batches, off the request path (so no request waits on a chain head), and
/// signs a checkpoint of each new head with the token signing key. Safe on every instance at once: the store links
/// one tenant in one place at a time, and a head left without a checkpoint (a linker stopped in between) is signed
/// on the next round.
public struct AuditLinker: Service {
    let store: any AuditStore
    let signer: any TokenSigner
    let clock: any OTPGateCore.Clock
    let logger: Logger
    var interval: Duration = .seconds(1)
    var tenantsPerRound = 100
    var entriesPerTenant = 1000

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var round = 0
            while !Task.isCancelled {
                // Looking for heads left unsigned reads every tenant's head: once at start-up, then once a minute.
                let caughtUp = await linkOnce(recovering: round % 60 == 0).caughtUp
                round += 1
                // A tenant with more new entries than one batch is linked again at once, so the chain keeps up.
                if caughtUp { try await Task.sleep(for: interval) }
            }
        }
    }

    /// One round: the number of checkpoints signed, and whether every tenant's new entries fitted in it (a failed
    /// round counts as caught up, so it waits before trying again). `recovering` also signs heads a stopped linker
    /// left without a checkpoint.
    @discardableResult
    func linkOnce(recovering: Bool = true) async -> (signed: Int, caughtUp: Bool) {
        do {
            var heads = try await store.linkAudit(tenants: tenantsPerRound, limit: entriesPerTenant)
            let caughtUp = heads.count < tenantsPerRound && heads.allSatisfy { $0.linked < entriesPerTenant }
            let linked = Set(heads.map(\.tenantID))
            if recovering {
                heads += try await store.uncheckpointedAuditHeads(limit: tenantsPerRound).filter { !linked.contains($0.tenantID) }
            }
            for head in heads {
                let now = clock.now()
                let signature = try await signer.signProfileToken(
                    AuditChain.checkpointClaims(tenantID: head.tenantID, seq: head.seq, hash: head.hash, at: now), typ: AuditChain.checkpointType)
                try await store.saveAuditCheckpoint(
                    AuditCheckpoint(tenantID: head.tenantID, seq: head.seq, hash: head.hash, at: now, signature: signature))
                // A copy outside the database: someone who can write the database alone could rewrite the chain and
                // drop its checkpoints, but not the log lines already shipped elsewhere.
                logger.info(
                    "audit checkpoint",
                    metadata: ["tenant_id": "\(head.tenantID)", "seq": "\(head.seq)", "hash": "\(AuditChain.hex(head.hash))"])
            }
            return (heads.count, caughtUp)
        } catch {
            logger.warning("audit linking failed", metadata: ["error": .string(String(describing: error))])
            return (0, true)
        }
    }
}

/// Checks a tenant's chain and the signatures of its checkpoints (`otpgate audit verify`).
public struct AuditVerifier: Sendable {
    public let store: any AuditStore
    public let signer: any TokenSigner

    public init(store: any AuditStore, signer: any TokenSigner) {
        self.store = store
        self.signer = signer
    }

    /// `purgeCutoff`: now less the audit retention in force, before which alone a purge may have cut the log.
    public func verify(tenantID: String, anchors: [AuditChain.Anchor] = [], purgeCutoff: Timestamp? = nil) async throws -> AuditChain.Report {
        let (entries, checkpoints) = try await store.auditChain(tenantID: tenantID)
        var valid: Set<Int64> = []
        for checkpoint in checkpoints {
            let result = await signer.verifyProfileToken(checkpoint.signature, typ: AuditChain.checkpointType, audience: AuditChain.checkpointType)
            if case .success(let claims) = result,
                claims["tenant_id"] == .string(checkpoint.tenantID), claims["seq"]?.intValue == Int(checkpoint.seq),
                claims["hash"] == .string(AuditChain.hex(checkpoint.hash)), claims["iat"]?.intValue == Int(checkpoint.at.seconds)
            {
                valid.insert(checkpoint.seq)
            }
        }
        return AuditChain.verify(entries: entries, checkpoints: checkpoints, anchors: anchors, purgeCutoff: purgeCutoff) {
            valid.contains($0.seq)
        }
    }
}
