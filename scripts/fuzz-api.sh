#!/usr/bin/env bash
# Schemathesis against the native API, as the server describes it: the OpenAPI document served at /openapi.json.
#
# One `otpgate serve` on a fresh SQLite database in a temporary directory (console delivery, so the hooks can read
# the codes; per-key, per-destination and lockout limits raised so fuzzing is not throttled), one tenant and API
# key made with `otpgate tenant create`, then `st run` over every operation of the document with
# scripts/schemathesis/hooks.py, which gives part of the generated requests valid destinations, the ids of real
# verifications, their real codes and real tokens (see that file), while the rest go out as generated.
#
# It fails (exits non-zero) if:
#   - Schemathesis reports any failure of its checks, or any error. The checks: not_a_server_error (no 5xx),
#     response_schema_conformance (every answer matches its schema in the document), status_code_conformance
#     (every status is documented for its operation), content_type_conformance, response_headers_conformance
#     (X-Request-Id, Location, Retry-After as documented), ignored_auth (no /v1 operation answers without a valid
#     key), ensure_resource_availability (a created verification can be read), and errors_are_problems (from
#     hooks.py: every 4xx/5xx is application/problem+json with a consistent status and type);
#   - Schemathesis sent fewer than FUZZ_MIN_REQUESTS requests (default 5000), counted by the hooks' after_call,
#     or some operation of the document got none;
#   - no verification was created, no check approved or no token verified valid by generated requests (the
#     hooks stopped reaching the engine);
#   - the server answered any 5xx (counted again from its own request log) or died during the run.
# It prints the number of requests, per operation and status.
#
# Usage: bash scripts/fuzz-api.sh
#   OTPGATE_BIN=.build/debug/otpgate   the server binary (default: $(swift build --show-bin-path)/otpgate; not built here)
#   FUZZ_MAX_EXAMPLES=1000             fuzzing-phase examples per operation (the coverage phase comes on top)
#   FUZZ_MIN_REQUESTS=5000             the least number of requests the run must send
#   FUZZ_SEED=20260101                 Schemathesis's and the hooks' random seed (the same seed repeats the generated inputs)
#   FUZZ_WORKERS=1                     Schemathesis workers (more than 1 can hit a CPython 3.11 bug in ast.parse, which
#                                      Hypothesis calls from every worker thread: "AST constructor recursion depth mismatch")
#   FUZZ_SCHEMA_FILE=path/openapi.yaml a local document instead of the served one (to try an edit before rebuilding)
#   FUZZ_STATS_OUT=path.json           keep the hooks' counts there, with the first request and answer per operation and status
# Installs Schemathesis (PyPI, pinned below) with pip when missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-1000}"
MIN_REQUESTS="${FUZZ_MIN_REQUESTS:-5000}"
SEED="${FUZZ_SEED:-20260101}"
WORKERS="${FUZZ_WORKERS:-1}"
CHECKS=not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance,ignored_auth,ensure_resource_availability,errors_are_problems

log() { printf '[fuzz-api %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[fuzz-api %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

if ! python3 -c "import sys, schemathesis; sys.exit(schemathesis.__version__ != '$SCHEMATHESIS_VERSION')" >/dev/null 2>&1; then
    log "installing: schemathesis==$SCHEMATHESIS_VERSION (PyPI)"
    python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

BIN="${OTPGATE_BIN:-$(cd "$ROOT" && swift build --show-bin-path)/otpgate}"
[[ -x $BIN ]] || die "no otpgate binary at $BIN (build it first: swift build)"

TMP=$(mktemp -d /tmp/otpgate-fuzz.XXXXXX)
SERVER_PID=""
cleanup() {
    local rc=$?
    trap - EXIT
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -f $TMP/server.log ]]; then
        # Its own lines and the 5xx answers; the other request lines would bury them.
        echo "--- server log (last 20 lines other than 2xx-4xx request lines)" >&2
        grep -vE '"msg":"request".*"status":"[234][0-9][0-9]"' "$TMP/server.log" | tail -n 20 >&2 || true
    fi
    if [[ -n ${FUZZ_STATS_OUT:-} && -f $TMP/stats.json ]]; then cp "$TMP/stats.json" "$FUZZ_STATS_OUT" || true; fi
    rm -rf -- "$TMP"
    exit "$rc"
}
trap cleanup EXIT

DATABASE="sqlite:$TMP/otpgate.sqlite"
export OTPGATE_MASTER_KEY
OTPGATE_MASTER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# The tenant and its key, with the CLI, before the server starts.
created=$(env -u OTPGATE_DATABASE_URL "$BIN" tenant create fuzz --json --database "$DATABASE" | tail -n 1)
API_KEY=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["api_key"])' "$created") \
    || die "otpgate tenant create printed no JSON line with an api_key: $created"
[[ $API_KEY =~ ^otpg_[a-z2-7]{52}$ ]] || die "otpgate tenant create printed an unexpected key"

# Console delivery: the hooks read the codes from the server's stdout. Limits raised so fuzzing is not throttled
# (a 429 is still a documented answer when it comes). No resend cooldown, so resends of real verifications succeed.
env -u OTPGATE_DATABASE_URL OTPGATE_ENV=development OTPGATE_DELIVERY=console OTPGATE_LOG_LEVEL=info \
    OTPGATE_SQLITE_SYNCHRONOUS=NORMAL \
    OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND=1000000 \
    OTPGATE_POLICY_STARTS_PER_DESTINATION=10000 \
    OTPGATE_POLICY_STARTS_PER_CLIENT_IP=100000 \
    OTPGATE_POLICY_PUMPING_GUARD=off \
    OTPGATE_POLICY_STARTS_PER_CLIENT_FINGERPRINT=100000 \
    OTPGATE_POLICY_FAILED_CHECKS_BEFORE_LOCK=100 \
    OTPGATE_POLICY_RESEND_COOLDOWN_SECONDS=0 \
    OTPGATE_POLICY_MAX_SENDS=10 \
    "$BIN" serve --host 127.0.0.1 --port 0 --metrics-port 0 --database "$DATABASE" \
    >"$TMP/console.out" 2>"$TMP/server.log" &
SERVER_PID=$!

PORT=""
for _ in $(seq 600); do
    # The public listener's line (the metrics listener logs as otpgate.metrics).
    PORT=$(grep 'listening on' "$TMP/server.log" 2>/dev/null | grep -v 'otpgate.metrics' \
        | grep -oE 'listening on 127\.0\.0\.1:[0-9]+' | head -n 1 | sed 's/.*://' || true)
    [[ -n $PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "otpgate serve exited during startup"
    sleep 0.2
done
[[ -n $PORT ]] || die "otpgate serve did not log its listening port within 120 s"
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fs -o /dev/null "$BASE/readyz" && break; sleep 0.1; done
curl -fs -o /dev/null "$BASE/readyz" || die "/readyz does not answer on $BASE"
log "otpgate serve on $BASE ($BIN), database $DATABASE"

# The document the server serves; FUZZ_SCHEMA_FILE tries an edited openapi.yaml before the binary is rebuilt with it.
SCHEMA_LOCATION=("$BASE/openapi.json")
if [[ -n ${FUZZ_SCHEMA_FILE:-} ]]; then
    SCHEMA_LOCATION=("$FUZZ_SCHEMA_FILE" --url "$BASE")
    log "using the document $FUZZ_SCHEMA_FILE instead of the served one"
fi
log "schemathesis $SCHEMATHESIS_VERSION: $MAX_EXAMPLES examples per operation, seed $SEED, $WORKERS workers, checks $CHECKS"
# --include-path-regex '^/' selects every path explicitly: without it Schemathesis leaves out the operation that
# served the document it loaded (GET /openapi.json).
st_rc=0
SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis/hooks.py" \
OTPGATE_FUZZ_BASE_URL="$BASE" OTPGATE_FUZZ_API_KEY="$API_KEY" OTPGATE_FUZZ_CONSOLE_LOG="$TMP/console.out" \
OTPGATE_FUZZ_STATS="$TMP/stats.json" OTPGATE_FUZZ_SEED="$SEED" \
    python3 -m schemathesis.cli run "${SCHEMA_LOCATION[@]}" \
    --header "Authorization: Bearer $API_KEY" \
    --include-path-regex '^/' \
    --checks "$CHECKS" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --generation-database none \
    --suppress-health-check too_slow,filter_too_much,data_too_large \
    --no-color \
    --output-sanitize false \
    || st_rc=$?

kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the fuzz run"

[[ -f $TMP/stats.json ]] || die "the hooks wrote no request count ($TMP/stats.json): were they loaded?"
# The server's own count of 5xx answers, from its request log (one JSON line per request).
server_5xx=$(python3 - "$TMP/server.log" <<'EOF'
import json, sys
count = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    status = entry.get("status") or entry.get("metadata", {}).get("status")
    try:
        if int(status) >= 500:
            count += 1
    except (TypeError, ValueError):
        pass
print(count)
EOF
)
summary_rc=0
python3 - "$TMP/stats.json" "$MIN_REQUESTS" "$server_5xx" "$BASE" <<'EOF' || summary_rc=$?
import json, sys, urllib.request
stats = json.load(open(sys.argv[1]))
minimum, server_5xx, base = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
document = json.load(urllib.request.urlopen(base + "/openapi.json"))
operations = [f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item if m in ("get", "post", "put", "patch", "delete")]
print("\nrequests per operation (status: count):")
for op in operations:
    counts = stats["by_operation"].get(op, {})
    detail = ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
    print(f"  {op:40} {sum(counts.values()):6}   {detail}")
print(f"\nFUZZ_REQUESTS total={stats['requests']} server_errors={stats['server_errors']} server_log_5xx={server_5xx}"
      f" verifications_created={stats['verifications_created']} checks_approved={stats['checks_approved']}"
      f" idempotent_replays={stats['idempotent_replays']} tokens_valid={stats['tokens_valid']}"
      f" setup_requests={stats['setup_requests']}")
print(f"  hooks used: valid destinations {stats['valid_destinations_used']}, real ids {stats['real_ids_used']},"
      f" real codes {stats['real_codes_used']}, real tokens {stats['real_tokens_used']}")
problems = []
if stats["requests"] < minimum:
    problems.append(f"only {stats['requests']} requests, fewer than {minimum}")
missing = [op for op in operations if not stats["by_operation"].get(op)]
if missing:
    problems.append("operations never requested: " + ", ".join(missing))
if stats["server_errors"] or server_5xx:
    problems.append(f"{max(stats['server_errors'], server_5xx)} server errors (5xx)")
for key in ("verifications_created", "checks_approved", "tokens_valid"):
    if stats[key] == 0:
        problems.append(f"no generated request got {key.replace('_', ' ')}: the hooks no longer reach the engine")
for p in problems:
    print("FAIL: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

[[ $st_rc -eq 0 ]] || die "schemathesis reported failures or errors (exit $st_rc); see its report above"
[[ $summary_rc -eq 0 ]] || die "the fuzz run fell short (see FAIL lines above)"
log "ok"
