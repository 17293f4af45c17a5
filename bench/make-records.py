#!/usr/bin/env python3
"""Synthetic subject records for `otpgate records import` (bench/profiles.sh), JSON Lines on stdout.

    python3 bench/make-records.py [N] [--kind itr|ckyc|customer] [--start I] [--seed S] [--hash scrypt|pbkdf2-1000]

N records (default 20000). Record i (i = --start ... --start + N - 1) gets these values, all derived from i:
  - a distinct PAN: three letters and four digits encode i, the fourth letter is P (an individual), the fifth is the
    surname's initial;
  - a distinct mobile, +91 7000000000 + i;
  - for ckyc, a distinct CKYC number, 30000000000000 + i;
  - for customer, a distinct entity_id ENT-BENCH-<i, 10 digits> and kit_no KIT<i, 10 digits>.
Two files made with disjoint index ranges (--start) therefore never share a subject or a mobile. This matters
because each mobile takes only a few OTP starts per window (the per-destination limit). Names, dates and amounts
come from a random generator seeded with --seed, the kind and i, so the same arguments always print the same
bytes, and record i is the same whatever N and --start are.

itr records: keys.pan, mobile, email, a password hash, and a payload (a profile and one itr_details entry). ckyc
records: keys.ckyc_number, keys.id_number (the PAN) with document_type PAN, mobile, and a payload (search and
download). Search them with {"id_number": PAN, "document_type": "PAN"}. customer records (the M2P prepaid
customers): keys.entity_id, keys.mobile (the mobile on file without +91), keys.kit_no, mobile, email, and a payload
(name, entity type, card, kit status, wallet balance). M2P's otp/generate finds them by {"entityId": ENTITY_ID}.

Passwords (itr). Every record has the portal password Bench@1234, given as ONE precomputed PHC hash shared by all
records. Hashing per record at the server's cost (scrypt N=2^14, r=8, p=1: 16 MiB and about 50 ms each) would
take 20,000 x 50 ms, over 16 minutes, for the default N. Giving the import clear passwords would measure the
server's hashing rather than the import. A salt shared by every record is fine for a benchmark and wrong for real
data.
  --hash scrypt       (default) $scrypt$ln=14,r=8,p=1$..., the cost of the hashes the server makes itself.
                      Checking it is what `create-client (password check)` measures.
  --hash pbkdf2-1000  $pbkdf2-sha256$i=1000,l=32$..., the least work the server accepts. profiles.sh uses it
                      for the records that only have to yield one client_id each for the generate-2fa load. At the
                      real cost, a pool of tens of thousands of client_ids takes longer to make than a client_id
                      lives.
"""

import argparse
import base64
import hashlib
import json
import random
import sys

PASSWORD = "Bench@1234"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FIRST_NAMES = [
    "Asha", "Ravi", "Meera", "Kiran", "Dev", "Farah", "Neha", "Arjun", "Priya", "Vikram", "Sana", "Rohan", "Isha",
    "Kabir", "Tara", "Nikhil", "Lata", "Omkar", "Pooja", "Sameer", "Zoya", "Manav", "Divya", "Harish",
]
SURNAMES = [
    "Example", "Sample", "Demo", "Testwala", "Placeholder", "Mockrao", "Fakir", "Dummy", "Benchmark", "Synthetic",
    "Loadtest", "Fixture", "Stubbs", "Specimen", "Notreal", "Imaginary",
]
CITIES = [
    ("Pune", "Maharashtra", "411"), ("Bengaluru", "Karnataka", "560"), ("Chennai", "Tamil Nadu", "600"),
    ("Jaipur", "Rajasthan", "302"), ("Kochi", "Kerala", "682"), ("Indore", "Madhya Pradesh", "452"),
    ("Lucknow", "Uttar Pradesh", "226"), ("Surat", "Gujarat", "395"),
]
COMPANIES = ["Example Widgets Pvt Ltd", "Sample Software LLP", "Demo Traders", "Placeholder Foods Ltd", "Mock Metals Pvt Ltd"]


def b64(raw: bytes) -> str:
    """Standard base64 without padding, as PHC strings carry it."""
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def shared_hash(kind: str, seed: int) -> str:
    """The one precomputed PHC hash of PASSWORD that every record carries."""
    salt = hashlib.sha256(f"otpgate-bench-salt/{seed}".encode()).digest()[:16]
    if kind == "scrypt":
        derived = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32, maxmem=64 * 1024 * 1024)
        return f"$scrypt$ln=14,r=8,p=1${b64(salt)}${b64(derived)}"
    derived = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 1000, 32)
    return f"$pbkdf2-sha256$i=1000,l=32${b64(salt)}${b64(derived)}"


MAX_INDEX = 26**3 * 10_000  # the PAN encoding's range; mobiles and CKYC numbers have more room


def pan(i: int, surname: str, rng: random.Random) -> str:
    q, digits = divmod(i, 10_000)
    a, rest = divmod(q, 26 * 26)
    b, c = divmod(rest, 26)
    return f"{LETTERS[a]}{LETTERS[b]}{LETTERS[c]}P{surname[0].upper()}{digits:04d}{rng.choice(LETTERS)}"


def person(i: int, kind: str, seed: int):
    rng = random.Random(f"{seed}/{kind}/{i}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    city, state, pin = rng.choice(CITIES)
    year = rng.randint(1955, 2003)
    dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    address = f"{rng.randint(1, 250)} {rng.choice(SURNAMES)} Street, {city}, {state} {pin}{rng.randint(0, 999):03d}"
    mobile = f"+91{7_000_000_000 + i}"
    return rng, {
        "first": first, "last": last, "name": f"{first} {last}".upper(), "pan": pan(i, last, rng), "dob": dob,
        "year": year, "address": address, "pincode": address[-6:], "mobile": mobile,
        "email": f"{first}.{last}.{i}@example.com".lower(), "father": f"{rng.choice(FIRST_NAMES)} {last}".upper(),
        "gender": rng.choice(["MALE", "FEMALE"]),
    }


def itr_record(i: int, seed: int, password_hash: str) -> dict:
    rng, p = person(i, "itr", seed)
    gross = rng.randrange(300_000, 4_000_000, 500)
    total = gross - rng.randrange(0, min(gross, 250_000), 500)
    return {
        "kind": "itr",
        "keys": {"pan": p["pan"]},
        "mobile": p["mobile"],
        "email": p["email"],
        "password": password_hash,
        "payload": {
            "profile": {"name": p["name"], "pan": p["pan"], "dob": p["dob"], "email": p["email"],
                        "mobile": p["mobile"][3:], "address": p["address"]},
            "itr_details": [{
                "itr_id": 1, "name": p["name"], "fathers_name": p["father"], "email": p["email"],
                "pincode": p["pincode"], "aadhaar_no": f"XXXXXXXX{i % 10_000:04d}", "mobile_no": p["mobile"][3:],
                "address": p["address"],
                "income": {"total_income": total, "gross_income": gross, "company_name": rng.choice(COMPANIES),
                           "company_address": f"{rng.randint(1, 99)} Demo Park, {p['address'].split(', ')[1]}"},
                "gross_income": gross, "itr_type": rng.choice(["ITR-1", "ITR-2", "ITR-3", "ITR-4"]), "dob": p["dob"],
                "doi": None, "raw_itr": {"assessment_year": "2024-25", "regime": rng.choice(["old", "new"])},
            }],
        },
    }


def ckyc_record(i: int, seed: int) -> dict:
    rng, p = person(i, "ckyc", seed)
    ckyc_number = str(30_000_000_000_000 + i)
    identity = [{"sequence_number": "1", "document_type": "PAN", "document_id_number": p["pan"],
                 "verification_status": "03"}]
    return {
        "kind": "ckyc",
        "keys": {"ckyc_number": ckyc_number, "id_number": p["pan"], "document_type": "PAN"},
        "mobile": p["mobile"],
        "payload": {
            "search": {"full_name": p["name"], "age": str(2025 - p["year"]), "fathers_name": p["father"],
                       "kyc_date": f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(2016, 2024)}",
                       "updated_date": f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-2025",
                       "identity_details": identity},
            "download": {"personal_identifiable_data": {
                "personal_details": {"first_name": p["first"].upper(), "last_name": p["last"].upper(),
                                     "full_name": p["name"], "dob": p["dob"], "gender": p["gender"], "pan": p["pan"],
                                     "mob_num": p["mobile"][3:], "email": p["email"], "father_full_name": p["father"],
                                     "perm_address": p["address"], "ckyc_no": ckyc_number},
                "identity_details": {"identity": identity},
                "related_person_details": "",
                "image_details": {"image": []},
            }},
        },
    }


def customer_record(i: int, seed: int) -> dict:
    rng, p = person(i, "customer", seed)
    return {
        "kind": "customer",
        "keys": {"entity_id": entity_id(i), "mobile": p["mobile"][3:], "kit_no": f"KIT{i:010d}"},
        "mobile": p["mobile"],
        "email": p["email"],
        "payload": {"name": p["name"], "entity_type": "CUSTOMER", "card_last4": f"{i % 10_000:04d}",
                    "kit_status": "ACTIVE", "wallet_balance": rng.randrange(0, 5_000_000) / 100, "currency": "INR"},
    }


def entity_id(i: int) -> str:
    """A customer record's entity_id (bench/profiles.sh sends it as M2P's entityId)."""
    return f"ENT-BENCH-{i:010d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("count", nargs="?", type=int, default=20_000, help="records to print (default 20000)")
    parser.add_argument("--kind", choices=["itr", "ckyc", "customer"], default="itr")
    parser.add_argument("--start", type=int, default=0, help="index of the first record (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the names, dates and amounts (default 1)")
    parser.add_argument("--hash", choices=["scrypt", "pbkdf2-1000"], default="scrypt",
                        help="the shared password hash of itr records (default scrypt)")
    args = parser.parse_args()
    if args.count < 0 or args.start < 0:
        parser.error("count and --start must not be negative")
    if args.start + args.count > MAX_INDEX:
        parser.error(f"--start + count must be at most {MAX_INDEX} (distinct PANs)")

    password_hash = shared_hash(args.hash, args.seed) if args.kind == "itr" else None
    out = sys.stdout
    for i in range(args.start, args.start + args.count):
        if args.kind == "itr":
            record = itr_record(i, args.seed, password_hash)
        elif args.kind == "ckyc":
            record = ckyc_record(i, args.seed)
        else:
            record = customer_record(i, args.seed)
        out.write(json.dumps(record, separators=(",", ":")))
        out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `| head` closed the pipe early
        sys.exit(0)
