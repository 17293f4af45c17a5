import ArgumentParser
import Foundation
import OTPGateCore
import OTPGateProfiles
import OTPGateServer
import OTPGateTokens

/// `otpgate credentials create | list | revoke`: what a client of a vendor profile authenticates with.
struct CredentialsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials", abstract: "Manage vendor-profile credentials (Surepass, KwikID, Eko, M2P).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a credential for one tenant and profile; its secret is shown once and stored only as a hash.")
        @Option(help: "Tenant id") var tenant: String
        @Option(help: "Profile: \(Profiles.names.joined(separator: ", "))") var profile: String
        @Option(help: "eko: the API user's registered 10-digit mobile, required as initiator_id on every call") var initiatorId: String?
        @Option(help: "m2p: the X-TENANT-ID value every call must send (default: the tenant id)") var xTenantId: String?
        @Option(help: "m2p: `same` (one code to mobile and email, SINGLE_OTP_DUAL; the default) or `different` (DIFFERENT_OTP_DUAL)")
        var dualOtp: String?
        @Flag(
            help:
                "Print one JSON object: credential_id, profile, tenant_id and token (surepass, kwikid), developer_key, access_key and initiator_id (eko), or client_id, client_secret and x_tenant_id (m2p)"
        ) var json = false
        @OptionGroup var db: DatabaseOption

        func validate() throws {
            guard Profiles.names.contains(profile) else {
                throw ValidationError("--profile must be one of \(Profiles.names.joined(separator: ", "))")
            }
            if profile == "eko", initiatorId == nil { throw ValidationError("--profile eko needs --initiator-id (the registered 10-digit mobile)") }
            if profile != "eko", initiatorId != nil { throw ValidationError("--initiator-id is only for --profile eko") }
            if profile != "m2p", xTenantId != nil || dualOtp != nil {
                throw ValidationError("--x-tenant-id and --dual-otp are only for --profile m2p")
            }
            if let dualOtp, dualOtp != "same", dualOtp != "different" { throw ValidationError("--dual-otp must be same or different") }
        }

        func run() async throws {
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let (tenant, profile, json) = (self.tenant, self.profile, self.json)
            let options = CredentialAdmin.Options(initiatorID: initiatorId, vendorTenantID: xTenantId, separateDualCodes: dualOtp == "different")
            try await Bootstrap.withStore(settings) { store in
                let signer = try await JWTTokenSigner.load(store: store, master: master, clock: SystemClock())
                let created = try await CredentialAdmin(store: store, signer: signer, issuer: settings.issuer, audit: settings.cliAuditActor).create(
                    tenantID: tenant, profile: profile, options: options, cipher: try await loadDataCipher(store: store, settings: settings))
                if json {
                    print(JSONLine.encode(Dictionary(uniqueKeysWithValues: created.json)))
                } else {
                    print("\(profile) credential \(created.credentialID) for \(tenant); its secret is shown once and stored only as a hash.")
                    switch profile {
                    case "eko":
                        print("Send developer_key, and secret-key = base64(HMAC-SHA256(base64(access_key), timestamp)) with secret-key-timestamp:")
                    case "m2p": print("Exchange client_id and client_secret at POST /auth/token, and send X-TENANT-ID on every call:")
                    default: print("Send it as Authorization: Bearer <token>:")
                    }
                    for (name, value) in created.fields { print(profile == "surepass" || profile == "kwikid" ? value : "\(name)=\(value)") }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's credentials (never the tokens).")
        @Option(help: "Tenant id") var tenant: String
        @Option(help: "Only this profile") var profile: String?
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let settings = try await db.settings()
            let master = try MasterKey.ring(settings: settings, random: SystemRandomSource())
            let (tenant, profile) = (self.tenant, self.profile)
            let lines = try await Bootstrap.withStore(settings) { store in
                let signer = try await JWTTokenSigner.load(store: store, master: master, clock: SystemClock())
                return try await CredentialAdmin(store: store, signer: signer, issuer: settings.issuer).list(tenantID: tenant, profile: profile).map {
                    "\($0.id)\t\($0.profile ?? "")\t\($0.prefix)\t\($0.createdAt.iso8601)\t\($0.revokedAt.map { "revoked " + $0.iso8601 } ?? "active")"
                }
            }
            for line in lines { print(line) }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a credential; running servers refuse it within seconds.")
        @Argument(help: "Credential id (crd_…)") var credentialID: String
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let id = credentialID
            guard id.hasPrefix("crd_") else { throw ValidationError("a credential id starts with crd_") }
            let settings = try await db.settings()
            try await Bootstrap.withStore(settings) { store in
                guard try await TenantAdmin(store: store, audit: settings.cliAuditActor).revokeKey(id: id, credential: true) else {
                    throw ValidationError("no active credential \(id)")
                }
                print("revoked \(id)")
            }
        }
    }
}
