/// The kinds of subject whose data a vendor profile's OTP releases.
public enum RecordKind: String, Sendable, CaseIterable, Equatable {
    /// A taxpayer: PAN, portal password, contact on file, profile, filings, ITR-V, AIS.
    case itr
    /// A CKYC record: the CKYC number, the documents it is found by, the mobile on file, the download payload.
    case ckyc
    /// A card or wallet customer (M2P): entity id, mobile, email.
    case customer

    /// The key that names one subject of this kind; an import upserts by it.
    public var identityKey: String {
        switch self {
        case .itr: "pan"
        case .ckyc: "ckyc_number"
        case .customer: "entity_id"
        }
    }
}

/// One subject: its lookup keys (canonical), the contacts on file that OTPs go to, the portal password's slow hash,
/// and the vendor-shaped data its flows release. Held in clear only in memory; the store keeps it sealed
/// (`RecordBook`).
public struct SubjectRecord: Sendable, Equatable {
    public var kind: RecordKind
    /// Canonical lookup keys (`RecordKeys`), the identity among them.
    public var keys: [String: String]
    /// The mobile on file, E.164.
    public var mobile: String?
    /// The email on file, canonical.
    public var email: String?
    /// A PHC string (`PasswordHash`); only `itr` records have one.
    public var passwordHash: String?
    public var payload: JSONValue
    /// What the flows find this record by (`RecordLookup`), the identity first.
    public var lookups: [String]

    public init(
        kind: RecordKind, keys: [String: String], lookups: [String] = [], mobile: String? = nil, email: String? = nil,
        passwordHash: String? = nil, payload: JSONValue = .object([:])
    ) {
        self.kind = kind
        self.keys = keys
        self.lookups = lookups.isEmpty ? [RecordLookup.make(kind.identityKey, keys[kind.identityKey] ?? "")] : lookups
        self.mobile = mobile
        self.email = email
        self.passwordHash = passwordHash
        self.payload = payload
    }

    /// The value of the identity key (the import validated that it is present).
    public var identity: String { keys[kind.identityKey] ?? "" }

    /// A member of the payload object, if the payload is an object and has it.
    public func payloadMember(_ name: String) -> JSONValue? {
        guard case .object(let members) = payload, let value = members[name], value != .null else { return nil }
        return value
    }
}

/// A lookup as indexed: `name=value`, the value canonical (`pan=ABCDE1234F`, `document=PAN:ABCDE1234F`,
/// `mobile=+919876543210`).
public enum RecordLookup {
    public static func make(_ name: String, _ value: String) -> String { name + "=" + value }
    public static func document(type: String, number: String) -> String { make("document", RecordKeys.document(type: type, number: number)) }
}

/// How lookup keys are spelled before they are indexed, so `abcde1234f` and `ABCDE1234F` find the same subject.
public enum RecordKeys {
    /// Upper case, with spaces, hyphens and dots removed (PANs, CKYC numbers, document numbers, kit numbers).
    public static func canonicalIdentifier(_ raw: String) -> String {
        String(raw.uppercased().unicodeScalars.filter { !" -.\t".unicodeScalars.contains($0) })
    }

    /// The key a document is found by: its type and number (`PAN:ABCDE1234F`).
    public static func document(type: String, number: String) -> String {
        canonicalIdentifier(type).replacingAll("_", with: "") + ":" + canonicalIdentifier(number)
    }

    /// A PAN: five letters, four digits, a letter.
    public static func isPAN(_ value: String) -> Bool {
        let b = Array(value.utf8)
        guard b.count == 10 else { return false }
        let letter: (UInt8) -> Bool = { $0 >= 65 && $0 <= 90 }
        let digit: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        return b[0..<5].allSatisfy(letter) && b[5..<9].allSatisfy(digit) && letter(b[9])
    }
}
