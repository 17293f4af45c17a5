"""Schemathesis hooks for the OTPGate fuzz run (scripts/fuzz-api.sh).

Loaded through SCHEMATHESIS_HOOKS. Schemathesis generates the requests from the served OpenAPI document, random
and schema-violating ones included; these hooks make part of them realistic enough to reach the engine:

- start (POST /v1/verifications): a share of the bodies get a valid destination for their channel: an Indian
  mobile number in one of its accepted spellings (+91…, 0091…, 0…, bare, with spaces or dashes) or an email
  address, so verifications are really created (and their codes really queued and delivered);
- operations with a verification id in the path: a share of the cases use the id of a verification that really
  exists in this tenant (created by the setup below, or by an earlier generated start), pending, approved,
  canceled or expired;
- check: for a real id, a share of the cases send the verification's real code, read from the console channel's
  output (the server's stdout, OTPGATE_FUZZ_CONSOLE_LOG), so checks are approved and tokens issued;
- resend: a share of the bodies name the verification's own channel;
- token verification: a share of the bodies carry a real token from an approved check (and its purpose).

Every other case is sent as generated, so invalid input keeps reaching the server (it must answer it with a
documented 4xx problem, never a 5xx). Randomness comes from one seeded generator (OTPGATE_FUZZ_SEED).

It also registers one check, `errors_are_problems`: every 4xx/5xx answer is `application/problem+json` whose
`status` is the HTTP status and whose `type` ends with its `code` (RFC 9457, as docs/API.md promises); and it
counts every request Schemathesis sends (`after_call`), per operation and status, writing the totals as JSON to
OTPGATE_FUZZ_STATS when the run ends: the fuzz script fails the run if they fall short.

Environment: OTPGATE_FUZZ_BASE_URL (http://127.0.0.1:PORT), OTPGATE_FUZZ_API_KEY, OTPGATE_FUZZ_CONSOLE_LOG,
OTPGATE_FUZZ_STATS, OTPGATE_FUZZ_SEED (optional, default 1).
"""

from __future__ import annotations

import atexit
import base64
import collections
import collections.abc
import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request

import schemathesis

BASE_URL = os.environ["OTPGATE_FUZZ_BASE_URL"].rstrip("/")
API_KEY = os.environ["OTPGATE_FUZZ_API_KEY"]
CONSOLE_LOG = os.environ.get("OTPGATE_FUZZ_CONSOLE_LOG", "")
STATS_PATH = os.environ.get("OTPGATE_FUZZ_STATS", "")
SEED = int(os.environ.get("OTPGATE_FUZZ_SEED", "1"))

# Schemathesis may run several workers (threads): every shared structure below is guarded by LOCK.
LOCK = threading.RLock()
RNG = random.Random(SEED)

ID_PATTERN = re.compile(r"^vrf_[a-z2-7]{26}$")
CODE_IN_TEXT = re.compile(r"^([0-9]{4,10}) is your ")
PURPOSE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

# verification id -> {"channel": "sms"|"email", "status": as last seen}; insertion order = creation order.
VERIFICATIONS: "collections.OrderedDict[str, dict]" = collections.OrderedDict()
MAX_VERIFICATIONS = 5000
CODES: dict[str, str] = {}  # verification id -> the code most recently delivered for it
TOKENS: list[tuple[str, str | None]] = []  # (token, purpose) from approved checks
MAX_TOKENS = 500
_console_offset = 0
SAMPLES: dict[str, str] = {}  # "METHOD path -> status": the first request that got it (for the report)

STATS = {
    "requests": 0,  # every request Schemathesis sent (after_call)
    "setup_requests": 0,  # requests these hooks sent themselves (seed verifications, pending ones kept in stock)
    "by_operation": collections.defaultdict(lambda: collections.Counter()),
    "server_errors": 0,
    "verifications_created": 0,  # 201 answers to generated starts that were not idempotent replays
    "idempotent_replays": 0,  # 201 answers with Idempotent-Replayed: true
    "checks_approved": 0,  # 200 answers to generated checks
    "tokens_valid": 0,  # 200 {"valid": true} answers to generated token verifications
    "real_ids_used": 0,
    "real_codes_used": 0,
    "real_tokens_used": 0,
    "valid_destinations_used": 0,
}


# --- realistic values -------------------------------------------------------------------------------------


def phone_number(rng: random.Random) -> str:
    """An Indian mobile number (10 digits starting 6 to 9) in one of the spellings the server accepts."""
    national = str(rng.choice("6789")) + "".join(str(rng.randrange(10)) for _ in range(9))
    spelling = rng.randrange(6)
    if spelling == 0:
        return "+91" + national
    if spelling == 1:
        return "0091" + national
    if spelling == 2:
        return "0" + national
    if spelling == 3:
        return national
    if spelling == 4:
        return f"+91 {national[:5]} {national[5:]}"
    return f"+91-{national[:3]}-{national[3:6]}-{national[6:]}"


def email_address(rng: random.Random) -> str:
    local = rng.choice(["riya", "arjun.k", "priya+otp", "dev_ops", "A.Sharma", "user"]) + str(rng.randrange(100000))
    domain = rng.choice(["example.com", "example.in", "Mail.Example.org", "gmail.com", "co.example.net"])
    return f"{local}@{domain}"


def destination(channel: str, rng: random.Random) -> str:
    return phone_number(rng) if channel == "sms" else email_address(rng)


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


# --- what the server and its console channel tell us -------------------------------------------------------

# A finished verification's problem code -> the state it is in.
STATE_OF_PROBLEM = {
    "already_approved": "approved",
    "canceled": "canceled",
    "expired": "expired",
    "max_attempts_reached": "max_attempts_reached",
}


def remember_verification(vid: str, channel: str | None = None, status: str | None = None) -> None:
    if not ID_PATTERN.match(vid):
        return
    with LOCK:
        entry = VERIFICATIONS.get(vid)
        if entry is None:
            if channel not in ("sms", "email"):
                return
            entry = VERIFICATIONS[vid] = {"channel": channel, "status": "pending"}
            while len(VERIFICATIONS) > MAX_VERIFICATIONS:
                VERIFICATIONS.popitem(last=False)
        if status:
            entry["status"] = status


def read_console() -> None:
    """New console messages on the server's stdout: the code each verification was sent last."""
    global _console_offset
    if not CONSOLE_LOG:
        return
    with LOCK:
        try:
            with open(CONSOLE_LOG, "rb") as f:
                f.seek(_console_offset)
                chunk = f.read()
        except OSError:
            return
        end = chunk.rfind(b"\n")
        if end < 0:
            return
        _console_offset += end + 1
        for line in chunk[: end + 1].splitlines():
            if b"otpgate.console.message" not in line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue
            match = CODE_IN_TEXT.match(message.get("text", ""))
            vid = message.get("verification_id", "")
            if match and vid:
                CODES[vid] = match.group(1)


def pick_verification(rng: random.Random, pending: bool = False, pending_with_code: bool = False) -> str | None:
    """A real verification: mostly a recent one, sometimes any; or a pending one (whose code we know)."""
    with LOCK:
        if pending or pending_with_code:
            ids = [v for v, e in VERIFICATIONS.items() if e["status"] == "pending" and (v in CODES or not pending_with_code)]
        else:
            ids = list(VERIFICATIONS.keys())
    if not ids:
        return None
    if rng.random() < 0.6:
        return ids[-1 - min(int(rng.expovariate(1 / 8)), len(ids) - 1)]
    return rng.choice(ids)


def token_purpose(token: str) -> str | None:
    """The `purpose` claim of a token (its payload is plain base64url JSON)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    purpose = claims.get("purpose") if isinstance(claims, dict) else None
    return purpose if isinstance(purpose, str) and PURPOSE.match(purpose) else None


def remember_token(token: str) -> None:
    with LOCK:
        TOKENS.append((token, token_purpose(token)))
        del TOKENS[:-MAX_TOKENS]


# --- setup: verifications in every state before the first generated request --------------------------------


def _request(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE_URL + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {API_KEY}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with LOCK:
        STATS["setup_requests"] += 1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_for_codes(ids: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        read_console()
        with LOCK:
            if all(i in CODES for i in ids):
                return
        time.sleep(0.1)


def seed_verifications() -> None:
    """Pending, approved (with their tokens), canceled, max-attempts and soon-expired verifications."""
    rng = random.Random(SEED + 1)
    created: list[tuple[str, str]] = []
    for n in range(24):
        channel = "sms" if n % 3 else "email"
        body = {"to": destination(channel, rng), "channel": channel}
        body["purpose"] = rng.choice(["login", "itr_unlock", "kyc:aadhaar", "payout-2"])
        if n >= 20:
            body["ttl_seconds"] = 30  # expired (410) well before the run ends
        if 16 <= n < 18:
            body["max_attempts"] = 1
        status, answer = _request("POST", "/v1/verifications", body)
        if status != 201:
            raise RuntimeError(f"seed start answered {status}: {answer}")
        remember_verification(answer["id"], channel)
        created.append((answer["id"], channel))
    _wait_for_codes([vid for vid, _ in created])
    for n, (vid, _) in enumerate(created):
        if n < 8 and vid in CODES:
            status, answer = _request("POST", f"/v1/verifications/{vid}/check", {"code": CODES[vid]})
            if status == 200:
                remember_verification(vid, status="approved")
                remember_token(answer["token"])
        elif n < 12:
            if _request("POST", f"/v1/verifications/{vid}/cancel", {})[0] == 200:
                remember_verification(vid, status="canceled")
        elif 16 <= n < 18:
            code = CODES.get(vid, "000000")
            wrong = ("1" if code.startswith("0") else "0") + code[1:]
            if _request("POST", f"/v1/verifications/{vid}/check", {"code": wrong})[0] == 422:
                remember_verification(vid, status="max_attempts_reached")


_seeded = False


@schemathesis.hook
def after_load_schema(context, schema) -> None:
    global _seeded
    with LOCK:
        if _seeded:
            return
        _seeded = True
    seed_verifications()


# --- shaping generated cases just before they are sent -----------------------------------------------------

RECENT_STARTS: list[tuple[str, dict]] = []  # (Idempotency-Key, body) of recent realistic starts, for replays


def _operation(case) -> tuple[str, str]:
    return case.operation.method.upper(), case.operation.path


def _is_negative(case) -> bool:
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return getattr(mode, "value", str(mode)) == "negative"


def _shape_start(case, rng: random.Random, negative: bool) -> None:
    body = case.body
    if not (isinstance(body, dict) and body.get("channel") in ("sms", "email") and isinstance(body.get("to", ""), str)):
        return
    if rng.random() >= (0.3 if negative else 0.85):
        return
    headers = case.headers if isinstance(case.headers, collections.abc.MutableMapping) else None
    with LOCK:
        replay = RECENT_STARTS[-1] if RECENT_STARTS and not negative and rng.random() < 0.05 else None
    if replay is not None and headers is not None:
        # The same key with the same body: a replay (201, Idempotent-Replayed: true) that creates nothing.
        headers["Idempotency-Key"] = replay[0]
        case.body = dict(replay[1])
        return
    body["to"] = destination(body["channel"], rng)
    with LOCK:
        STATS["valid_destinations_used"] += 1
    if negative:
        return
    # Random references and contexts are often out of bounds; keep most of the valid starts whole.
    if isinstance(body.get("reference"), str) and _has_control(body["reference"]) and rng.random() < 0.7:
        body["reference"] = "".join(c for c in body["reference"] if not _has_control(c))
    context_value = body.get("context")
    if isinstance(context_value, dict) and len(json.dumps(context_value, separators=(",", ":"))) > 2000:
        body["context"] = {"session": f"s-{rng.randrange(1000)}"}
    if headers is not None and "Idempotency-Key" in headers and rng.random() < 0.9:
        # The generator repeats a few keys (the document's example above all); a key reused with another body
        # is a 422, so give most realistic starts a key of their own.
        headers["Idempotency-Key"] = f"fuzz-{rng.getrandbits(64):016x}"
    if headers is not None and isinstance(headers.get("Idempotency-Key"), str):
        with LOCK:
            RECENT_STARTS.append((headers["Idempotency-Key"], dict(body)))
            del RECENT_STARTS[:-50]


def _ensure_pending(rng: random.Random, minimum: int = 4) -> None:
    """Keep a few pending verifications with known codes: generated checks, resends and cancels finish them."""
    with LOCK:
        pending = sum(1 for v, e in VERIFICATIONS.items() if e["status"] == "pending" and v in CODES)
    if pending >= minimum:
        return
    created = []
    for _ in range(minimum * 2):
        channel = rng.choice(["sms", "sms", "email"])
        status, answer = _request("POST", "/v1/verifications", {"to": destination(channel, rng), "channel": channel})
        if status == 201:
            remember_verification(answer["id"], channel)
            created.append(answer["id"])
    _wait_for_codes(created, timeout=10.0)


def _shape_by_id(case, path: str, rng: random.Random, negative: bool) -> None:
    body_ok = isinstance(case.body, dict)
    if not negative and path != "/v1/verifications/{id}":  # check, resend, cancel: the ones that finish them
        _ensure_pending(rng)
    if path.endswith("/check") and body_ok and not negative and rng.random() < 0.35:
        # The right code for a pending verification: approves it and issues a token.
        vid = pick_verification(rng, pending_with_code=True)
        if vid is not None:
            with LOCK:
                code = CODES[vid]
                STATS["real_ids_used"] += 1
                STATS["real_codes_used"] += 1
            case.path_parameters = dict(case.path_parameters or {}, id=vid)
            case.body = {"code": code}
            return
    if rng.random() < (0.35 if negative else 0.75):
        # Resend and cancel need a pending verification to succeed: prefer one half of the time.
        wants_pending = not negative and path.endswith(("/resend", "/cancel")) and rng.random() < 0.5
        vid = pick_verification(rng, pending=wants_pending) or pick_verification(rng)
        if vid is not None:
            case.path_parameters = dict(case.path_parameters or {}, id=vid)
            with LOCK:
                STATS["real_ids_used"] += 1
    vid = (case.path_parameters or {}).get("id")
    with LOCK:
        known = dict(VERIFICATIONS[vid]) if isinstance(vid, str) and vid in VERIFICATIONS else None
    if known is None or negative or not body_ok:
        return
    if path.endswith("/resend") and rng.random() < 0.7:
        case.body = {"channel": known["channel"]} if rng.random() < 0.6 else {}


def _shape_token(case, rng: random.Random, negative: bool) -> None:
    body = case.body
    with LOCK:
        token = rng.choice(TOKENS) if TOKENS else None
    if isinstance(body, dict) and token is not None and rng.random() < (0.3 if negative else 0.7):
        body["token"], purpose = token
        if purpose is not None and rng.random() < 0.5:
            body["purpose"] = purpose
        with LOCK:
            STATS["real_tokens_used"] += 1


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    method, path = _operation(case)
    negative = _is_negative(case)
    with LOCK:
        rng = random.Random(RNG.getrandbits(64))
    read_console()
    if method == "POST" and path == "/v1/verifications":
        _shape_start(case, rng, negative)
    elif "{id}" in path:
        _shape_by_id(case, path, rng, negative)
    elif method == "POST" and path == "/v1/tokens/verify":
        _shape_token(case, rng, negative)


# --- what came back ----------------------------------------------------------------------------------------


@schemathesis.hook
def after_call(context, case, response) -> None:
    method, path = _operation(case)
    status = response.status_code
    with LOCK:
        STATS["requests"] += 1
        STATS["by_operation"][f"{method} {path}"][str(status)] += 1
        if status >= 500:
            STATS["server_errors"] += 1
        sample_key = f"{method} {path} -> {status}"
        if sample_key not in SAMPLES:
            request = response.request
            idempotency = request.headers.get("Idempotency-Key")
            SAMPLES[sample_key] = (
                f"{request.method} {request.url}"
                + (f" Idempotency-Key: {idempotency!r}" if idempotency is not None else "")
                + (f" {request.body[:200]!r}" if request.body else "")
                + f" => {response.content[:200]!r}"
            )
    try:
        answer = json.loads(response.content)
    except ValueError:
        return
    if not isinstance(answer, dict):
        return
    vid = (case.path_parameters or {}).get("id")
    if method == "POST" and path == "/v1/verifications" and status == 201:
        remember_verification(str(answer.get("id", "")), str(answer.get("channel", "")))
        if "true" not in (response.headers.get("idempotent-replayed") or []):
            with LOCK:
                STATS["verifications_created"] += 1
        else:
            with LOCK:
                STATS["idempotent_replays"] += 1
    elif method == "POST" and path.endswith("/check") and status == 200:
        with LOCK:
            STATS["checks_approved"] += 1
        if isinstance(vid, str):
            remember_verification(vid, status="approved")
        if isinstance(answer.get("token"), str):
            remember_token(answer["token"])
    elif method == "POST" and path == "/v1/tokens/verify" and status == 200 and answer.get("valid") is True:
        with LOCK:
            STATS["tokens_valid"] += 1
    elif isinstance(vid, str):
        if status == 200 and isinstance(answer.get("status"), str):
            remember_verification(vid, status=answer["status"])
        elif answer.get("code") in STATE_OF_PROBLEM:
            remember_verification(vid, status=STATE_OF_PROBLEM[answer["code"]])


def _write_stats() -> None:
    if not STATS_PATH:
        return
    with LOCK:
        out = dict(STATS)
        out["by_operation"] = {op: dict(counts) for op, counts in STATS["by_operation"].items()}
        out["known_verifications"] = len(VERIFICATIONS)
        out["known_codes"] = len(CODES)
        out["tokens"] = len(TOKENS)
        out["samples"] = dict(sorted(SAMPLES.items()))
    with open(STATS_PATH, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


atexit.register(_write_stats)


# --- one extra check -----------------------------------------------------------------------------------------


@schemathesis.check
def errors_are_problems(ctx, response, case):
    """Every 4xx/5xx answer is an RFC 9457 problem: application/problem+json, status and code consistent."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip() != "application/problem+json":
        raise AssertionError(f"{response.status_code} answered with Content-Type {content_type!r}, not application/problem+json")
    try:
        problem = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{response.status_code} problem body is not JSON: {error}") from None
    if not isinstance(problem, dict):
        raise AssertionError("the problem body is not a JSON object")
    if problem.get("status") != response.status_code:
        raise AssertionError(f"problem status {problem.get('status')!r} differs from the HTTP status {response.status_code}")
    code = problem.get("code")
    if not isinstance(code, str) or problem.get("type") != f"urn:otpgate:problem:{code}":
        raise AssertionError(f"problem type {problem.get('type')!r} does not name its code {code!r}")
    return None
