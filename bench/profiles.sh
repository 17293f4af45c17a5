#!/usr/bin/env bash
# OTPGate vendor-profile benchmark (issue 13). In one run, on one release server on SQLite:
#   - `otpgate records import` rate, with precomputed password hashes (target: at least 2,000 records/s);
#   - the password-checking step's own rate: Surepass `itr/create-client` against scrypt (ln=14) hashes;
#   - the OTP-sending steps that check no password, Surepass `itr/generate-2fa` and `ckyc-v2/generate-otp`,
#     next to the native start (`POST /v1/verifications`) with the same wrk, threads and connections as
#     bench/run.sh (target: at least half the native start's requests/s);
#   - issue 14's sends, measured the same way and against the same native start (same target): Eko's mobile OTP
#     send (`POST /ekoapi/v3/tools/kyc/mobile/otp`, signed headers) and M2P's prepaid OTP generate
#     (`POST /prepaid/customer/v1/otp/generate`, Bearer token from `POST /auth/token` and X-TENANT-ID).
#
# Usage: bash bench/profiles.sh       (OTPGATE_BIN=.build/release/otpgate skips the build)
#
# Knobs: bench/run.sh's BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_TIMEOUT,
# BENCH_SERVER_CPUS, BENCH_WRK_CPUS, BENCH_TMPDIR, BENCH_RESULTS_DIR, BENCH_STRICT, OTPGATE_BIN,
# OTPGATE_SQLITE_SYNCHRONOUS and OTPGATE_LOG_LEVEL mean the same here. Also:
#   BENCH_RECORDS          itr records imported and timed (default 20000), all sharing one scrypt hash
#   BENCH_PASSWORD_CHECKS  create-client calls that measure the password-check rate (default 200)
#   BENCH_CLIENT_PARALLEL  concurrent requests while client_ids are made (default 16). The server's password
#                          pool queues at most 256 checks and answers 429 past that; the helper retries a 429
#   BENCH_PROFILE_POOL     client_ids made for each of generate-2fa and ckyc-v2/generate-otp (default auto: 1.5x
#                          what the first native start run would send in warm-up + measured time, at least 5000)
#   BENCH_POOL_HASH        password hash of the records behind the generate-2fa pool: pbkdf2-1000 (default) or
#                          scrypt. See "How it runs" below for why it is not scrypt
#   BENCH_M2P_CUSTOMERS    customer records imported for the M2P generate load (default auto: what the first native
#                          start run would send in warm-up + measured time, x1.5, over BENCH_M2P_USES; at least 2000)
#   BENCH_M2P_USES         generates each customer takes at most, over warm-up and measured run together (default:
#                          the server's starts per destination less one, so 4 unless OTPGATE_POLICY_STARTS_PER_DESTINATION
#                          is set; the one left over absorbs a native start that happens to pick the same mobile)
#   OTPGATE_PASSWORD_THREADS  passed to the server as it is (default: half the cores)
# BENCH_WARMUP and BENCH_DURATION may be at most 100 s each: an Eko signature is valid for 120 s.
#
# How it runs:
#   1. A fresh SQLite database: `otpgate tenant create bench --json` (a tenant and its API key),
#      `otpgate credentials create --tenant T --profile surepass --json` (the Bearer token), and the same with
#      `--profile eko --initiator-id 9962981729` (developer_key, access_key) and `--profile m2p` (client_id,
#      client_secret, x_tenant_id).
#   2. BENCH_RECORDS itr records from bench/make-records.py (one scrypt hash shared by all) are imported while no
#      server runs, and the wall time is measured.
#   3. First server: native start (warm-up, then measured) as in bench/run.sh. Then BENCH_PASSWORD_CHECKS
#      create-client calls against those records: the "create-client (password check) rate".
#   4. The server stops. Pool records are generated and imported: itr records for generate-2fa and ckyc records
#      for ckyc-v2/generate-otp, and BENCH_M2P_CUSTOMERS customer records for M2P's generate. Every record has
#      its own mobile, so the per-destination start limit (5 a window) never refuses one.
#   5. A second server on the same database. Each generate-2fa needs its own client_id (a second one on the same
#      client_id is a resend, refused for 30 s), and so does each generate-otp (a ckyc_ id from ckyc/search).
#      A small Python helper makes one client_id per pool record, BENCH_CLIENT_PARALLEL at a time, and writes one
#      request body a line. Every create-client checks a password. At scrypt ln=14 (about 50 ms of one core each,
#      on half the cores) that is a few dozen a second, and a pool of tens of thousands would take longer than a
#      client_id lives (30 minutes by default). So the pool records carry a PBKDF2 hash at 1000 rounds, the
#      least the server accepts, which makes the check almost free. generate-2fa itself checks no password, so
#      its figure does not depend on the hash.
#   6. On that second server, with the same wrk settings and in this order: native start, generate-2fa and
#      ckyc-v2/generate-otp. The last two use a wrk script that sends each body of the pool once. Each thread
#      takes its own slice, and warm-up and measured run use different bodies (as bench/run.sh's check pool).
#      Then, still on that server, Eko's send and M2P's generate, each warm-up then measured:
#      - eko-send (bench/eko-send.lua): wrk's Lua has no HMAC, so a timestamp and its secret-key are made with
#        Python right before each wrk run and given to wrk in its environment. The server takes them for 120 s and
#        refuses a request it has seen (same timestamp, signature, method, path and body), so every request's body
#        differs: its own mobile (6000000000 + a sequence number per request, the warm-up's and measured run's
#        never overlapping) and its own client_ref_id. A new mobile is also a first send: no resend cooldown.
#      - m2p-generate (bench/m2p-generate.lua): one access token from POST /auth/token (curl, or Python without
#        curl), then each generate names a customer by entityId, cycling over the customers so that none takes more
#        than BENCH_M2P_USES generates (the per-destination start limit is not raised).
#      Then a native start again. Ratios are to the mean of this server's two native starts, which bracket the profile
#      workloads: the database grows through the run, so a baseline at one end only would favour one side.
# The servers run with OTPGATE_DELIVERY=discard, OTPGATE_LOG_LEVEL=warning and
# OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND=1000000, as in bench/run.sh.
# Every wrk run's own count of responses of 400 and over ("Non-2xx or 3xx responses") is logged; the non-OK
# column is the scripts' stricter count (Eko answers its validation errors with HTTP 200, so its script checks the
# envelope's "status":0 too).
# Results (summary.md, summary.tsv, environment.txt, every wrk output, the import and helper logs, server logs)
# go to bench/results/profiles-<timestamp>/.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
TIMEOUT="${BENCH_TIMEOUT:-10}"
RESULTS_ROOT="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
SERVER_CPUS="${BENCH_SERVER_CPUS:-}"
WRK_CPUS="${BENCH_WRK_CPUS:-}"
STRICT="${BENCH_STRICT:-0}"
RECORDS="${BENCH_RECORDS:-20000}"
PASSWORD_CHECKS="${BENCH_PASSWORD_CHECKS:-200}"
PARALLEL="${BENCH_CLIENT_PARALLEL:-16}"
POOL="${BENCH_PROFILE_POOL:-auto}"
POOL_HASH="${BENCH_POOL_HASH:-pbkdf2-1000}"
M2P_CUSTOMERS="${BENCH_M2P_CUSTOMERS:-auto}"
# The server's per-destination start limit: Policy.startsPerDestination (5) unless the environment overrides it, as
# the servers inherit the environment. One start of it is left for a native start that picks the same mobile.
STARTS_PER_DESTINATION="${OTPGATE_POLICY_STARTS_PER_DESTINATION:-5}"
M2P_USES="${BENCH_M2P_USES:-$(( STARTS_PER_DESTINATION > 1 ? STARTS_PER_DESTINATION - 1 : 1 ))}"
EKO_INITIATOR=9962981729 # the API user's registered mobile that the Eko credential is created with
BENCH_PASSWORD="Bench@1234" # bench/make-records.py's shared portal password

log() { printf '[profiles %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[profiles %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; WARNINGS+=("$*"); }
die() { printf '[profiles %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
WARNINGS=()

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for knob in DURATION WARMUP CONNECTIONS THREADS TIMEOUT RECORDS PASSWORD_CHECKS PARALLEL M2P_USES; do
    is_uint "${!knob}" || die "the ${knob} knob must be a whole number, not '${!knob}'"
done
[[ $DURATION -ge 1 ]] || die "BENCH_DURATION must be at least 1"
[[ $THREADS -ge 1 && $CONNECTIONS -ge $THREADS ]] || die "need BENCH_THREADS >= 1 and BENCH_CONNECTIONS >= BENCH_THREADS"
[[ $RECORDS -ge 1 && $PASSWORD_CHECKS -ge 1 && $PARALLEL -ge 1 ]] || die "BENCH_RECORDS, BENCH_PASSWORD_CHECKS and BENCH_CLIENT_PARALLEL must be at least 1"
[[ $PASSWORD_CHECKS -le $RECORDS ]] || die "BENCH_PASSWORD_CHECKS ($PASSWORD_CHECKS) cannot exceed BENCH_RECORDS ($RECORDS)"
[[ $POOL == auto ]] || is_uint "$POOL" || die "BENCH_PROFILE_POOL must be 'auto' or a whole number"
[[ $POOL_HASH == pbkdf2-1000 || $POOL_HASH == scrypt ]] || die "BENCH_POOL_HASH must be pbkdf2-1000 or scrypt"
[[ $M2P_CUSTOMERS == auto ]] || { is_uint "$M2P_CUSTOMERS" && [[ $M2P_CUSTOMERS -ge 1 ]]; } \
    || die "BENCH_M2P_CUSTOMERS must be 'auto' or a whole number of at least 1"
[[ $M2P_USES -ge 1 ]] || die "BENCH_M2P_USES must be at least 1"
is_uint "$STARTS_PER_DESTINATION" || die "OTPGATE_POLICY_STARTS_PER_DESTINATION must be a whole number"
[[ $M2P_USES -le $STARTS_PER_DESTINATION ]] \
    || die "BENCH_M2P_USES ($M2P_USES) exceeds the server's starts per destination ($STARTS_PER_DESTINATION): generates would be refused"
# An Eko signature covers one timestamp, which the server accepts for 120 s: each wrk run must end well before.
[[ $DURATION -le 100 && $WARMUP -le 100 ]] || die "BENCH_DURATION and BENCH_WARMUP must be at most 100 s (an Eko signature lasts 120 s)"
[[ ${BENCH_DATABASE:-sqlite} == sqlite ]] || die "bench/profiles.sh runs on SQLite only (BENCH_DATABASE=${BENCH_DATABASE})"
[[ -r /proc/self/status ]] || die "this benchmark reads /proc (peak RSS): run it on Linux"
command -v python3 >/dev/null 2>&1 || die "python3 is required (bench/make-records.py and the client_id helper)"

# --- state and cleanup -----------------------------------------------------------------------------------

TMP=""
SERVER_PID=""
WRK_PID=""

alive() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_pid() { # pid [seconds]
    local pid=$1 tries=$(( ${2:-15} * 10 ))
    alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [[ $tries -gt 0 ]]; do sleep 0.1; tries=$((tries - 1)); done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $WRK_PID ]]; then stop_pid "$WRK_PID" 2; fi
    if [[ -n $SERVER_PID ]]; then stop_pid "$SERVER_PID" 15; fi
    if [[ -n $TMP && -d $TMP ]]; then rm -rf -- "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools (as in bench/run.sh) --------------------------------------------------------------------------

ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    log "wrk is not installed; installing it from the Debian archive"
    command -v apt-get >/dev/null 2>&1 || die "wrk is missing and apt-get is not available: install wrk yourself"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "wrk is missing: run as root or install it (apt-get install wrk)"
        sudo=(sudo)
    fi
    ${sudo[@]+"${sudo[@]}"} apt-get update >&2
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
    command -v wrk >/dev/null 2>&1 || die "wrk is still missing after apt-get install"
}

build_server() {
    if [[ -n ${OTPGATE_BIN:-} ]]; then
        [[ -x $OTPGATE_BIN ]] || die "OTPGATE_BIN=$OTPGATE_BIN is not an executable file"
        BIN="$(cd "$(dirname "$OTPGATE_BIN")" && pwd)/$(basename "$OTPGATE_BIN")"
        log "using OTPGATE_BIN=$BIN (not building)"
        return
    fi
    command -v swift >/dev/null 2>&1 || die "swift is not on PATH: install a Swift toolchain or set OTPGATE_BIN"
    log "building: swift build -c release --product otpgate"
    (cd "$ROOT" && swift build -c release --product otpgate) >&2 || die "the release build failed"
    BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/otpgate"
    [[ -x $BIN ]] || die "the build did not produce $BIN"
}

free_port() {
    local port
    if port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null) \
        && is_uint "$port"; then
        echo "$port"; return
    fi
    die "found no free TCP port on 127.0.0.1"
}

http_ok() { # port path: succeeds when GET answers 200
    local port=$1 path=$2
    if command -v curl >/dev/null 2>&1; then
        curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port$path"
        return
    fi
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
        IFS= read -r -t 2 status <&3 || exit 1
        [[ $status == "HTTP/1.1 200"* ]]
    ) 2>/dev/null
}

now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", n / s; else print "n/a" }'; }
ratio() { awk -v base="$1" -v x="$2" 'BEGIN { if (base > 0) printf "%.2f", x / base; else print "n/a" }'; }

# json_field NAME: the member NAME of the last JSON object line on stdin (the CLI's --json line).
json_field() {
    python3 -c '
import json, sys
for line in reversed(sys.stdin.read().splitlines()):
    line = line.strip()
    if line.startswith("{"):
        try:
            value = json.loads(line)[sys.argv[1]]
        except (ValueError, KeyError, TypeError):
            continue
        print(value)
        sys.exit(0)
sys.exit(1)' "$1"
}

# --- the server and the command line ---------------------------------------------------------------------

# The settings of bench/run.sh's servers. The commands get them too: the same master key opens what the
# server sealed.
SERVER_ENV=(
    OTPGATE_ENV=development OTPGATE_METRICS_PORT=0
    OTPGATE_MASTER_KEY="$(printf 'ab%.0s' {1..32})"
    OTPGATE_DELIVERY=discard
    OTPGATE_LOG_LEVEL="${OTPGATE_LOG_LEVEL:-warning}"
    OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND="${OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND:-1000000}"
    OTPGATE_POLICY_PUMPING_GUARD="${OTPGATE_POLICY_PUMPING_GUARD:-off}"
)
UNSET_ENV=(-u OTPGATE_DATABASE_URL -u OTPGATE_MASTER_KEY -u OTPGATE_MASTER_KEY_FILE -u OTPGATE_HOST -u OTPGATE_PORT)

otpgate_cli() { env "${UNSET_ENV[@]}" "${SERVER_ENV[@]}" "$BIN" "$@" --database "$DATABASE"; }

# launch_server NAME: starts otpgate on $DATABASE and waits until it is ready. Sets SERVER_PID and SERVER_PORT.
launch_server() {
    local name=$1
    SERVER_PORT=$(free_port)
    local out="$RUN_DIR/server-$name.out" err="$RUN_DIR/server-$name.log"
    local prefix=()
    if [[ -n $SERVER_CPUS ]]; then prefix=(taskset -c "$SERVER_CPUS"); fi
    log "starting server '$name' on 127.0.0.1:$SERVER_PORT"
    ${prefix[@]+"${prefix[@]}"} env "${UNSET_ENV[@]}" "${SERVER_ENV[@]}" \
        "$BIN" serve --host 127.0.0.1 --port "$SERVER_PORT" --database "$DATABASE" >"$out" 2>"$err" &
    SERVER_PID=$!
    local deadline=$((SECONDS + 120))
    until http_ok "$SERVER_PORT" /readyz; do
        if ! alive "$SERVER_PID"; then
            tail -n 20 "$err" >&2 || true
            die "server '$name' exited during startup (log: $err)"
        fi
        [[ $SECONDS -lt $deadline ]] || die "server '$name' was not ready within 120 s (log: $err)"
        sleep 0.2
    done
    log "server '$name' is ready (pid $SERVER_PID)"
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    stop_pid "$SERVER_PID" 15
    SERVER_PID=""
}

peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
require_alive() { alive "$1" || die "the server (pid $1) died during $2; see $RUN_DIR/server-*.log"; }

# --- wrk (as in bench/run.sh, with the Bearer token as an argument) --------------------------------------

# spawn_wrk OUTFILE DURATION_S SCRIPT BEARER [VAR=VALUE ...]: starts wrk in the background; sets WRK_PID.
spawn_wrk() {
    local out=$1 duration=$2 script=$3 bearer=$4
    shift 4
    local prefix=()
    if [[ -n $WRK_CPUS ]]; then prefix=(taskset -c "$WRK_CPUS"); fi
    {
        echo "# wrk -t$THREADS -c$CONNECTIONS -d${duration}s --timeout ${TIMEOUT}s --latency -s $(basename "$script") http://127.0.0.1:$SERVER_PORT/"
        echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
    } >"$out"
    ${prefix[@]+"${prefix[@]}"} env BENCH_API_KEY="$bearer" BENCH_THREADS="$THREADS" "$@" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${duration}s" --timeout "${TIMEOUT}s" --latency \
        -s "$script" "http://127.0.0.1:$SERVER_PORT/" >>"$out" 2>&1 &
    WRK_PID=$!
}

run_wrk() { # OUTFILE DURATION_S SCRIPT BEARER [VAR=VALUE ...]
    local out=$1
    spawn_wrk "$@"
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    if [[ $rc -ne 0 ]] || ! grep -q '^BENCH_RESULT ' "$out"; then
        tail -n 30 "$out" >&2 || true
        die "wrk failed (exit $rc); output in $out"
    fi
}

# result FILE KEY: a value from the last "BENCH_RESULT k=v ..." (wrk scripts) or "CLIENTS_RESULT k=v ..." line.
result() { grep -E '^(BENCH|CLIENTS)_RESULT ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# wrk_non2xx FILE: wrk's own count of answers with a status of 400 or more ("Non-2xx or 3xx responses"; 0 when absent).
wrk_non2xx() { local n; n=$(sed -n 's/^[[:space:]]*Non-2xx or 3xx responses:[[:space:]]*\([0-9]*\).*/\1/p' "$1" | tail -n 1); echo "${n:-0}"; }

report_bad() { # file label [what ran out, when the pool is exhausted]
    local bad sock first non2xx
    bad=$(result "$1" bad)
    non2xx=$(wrk_non2xx "$1")
    log "$2: wrk non-2xx responses: $non2xx; non-OK (the script's check): $bad"
    if [[ $non2xx -gt 0 && $bad -eq 0 ]]; then warn "$2: wrk counted $non2xx non-2xx responses (see $1)"; fi
    sock=$(( $(result "$1" connect_errors) + $(result "$1" read_errors) + $(result "$1" write_errors) + $(result "$1" timeouts) ))
    if [[ $bad -gt 0 ]]; then
        first=$(sed -n 's/^BENCH_FIRST_BAD //p' "$1" | head -n 1)
        warn "$2: $bad unexpected responses (first: ${first:0:200})"
    fi
    if [[ $sock -gt 0 ]]; then warn "$2: $sock socket errors/timeouts (see $1)"; fi
    if [[ $(result "$1" exhausted) -gt 0 ]]; then
        warn "$2: ${3:-the client_id pool ran out, so requests/s is too low: rerun with a larger BENCH_PROFILE_POOL}"
    fi
}

# --- helpers written at run time --------------------------------------------------------------------------

write_helpers() {
    # wrk script: each JSON body of a pool file (one a line) is POSTed once to BENCH_PATH. It has the same
    # slicing, offset and done() line as bench/check.lua.
    cat >"$TMP/pool.lua" <<'LUA'
-- Environment: BENCH_API_KEY (the Bearer token), BENCH_PATH, BENCH_POOL (the bodies), BENCH_THREADS,
-- BENCH_POOL_OFFSET (lines used by an earlier run), BENCH_POOL_STATE (done() writes the first unused line here),
-- BENCH_OK_STATUS (default 200; anything else counts as bad).
local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local function required(name)
   local v = os.getenv(name)
   if v == nil or v == "" then error(name .. " is not set") end
   return v
end

local function env_number(name, default)
   local v = os.getenv(name)
   if v == nil or v == "" then return default end
   local n = tonumber(v)
   if n == nil then error(name .. " must be a number, not " .. v) end
   return n
end

function init(args)
   local key = required("BENCH_API_KEY")
   local path = required("BENCH_PATH")
   local pool = required("BENCH_POOL")
   local nthreads = env_number("BENCH_THREADS", nil)
   if not nthreads then error("BENCH_THREADS is not set") end
   local offset = env_number("BENCH_POOL_OFFSET", 0)
   ok_status = env_number("BENCH_OK_STATUS", 200)

   local host = wrk.host
   if wrk.port then host = host .. ":" .. wrk.port end
   header_block = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\nAuthorization: Bearer " .. key ..
      "\r\nContent-Type: application/json\r\nContent-Length: "
   bodies = {}
   local i = 0
   for line in io.lines(pool) do
      if i >= offset and (i - offset) % nthreads == tid then
         bodies[#bodies + 1] = line
      end
      i = i + 1
   end
   pool_size = #bodies
   -- wrk calls request() once on thread 0 right after init only to check it parses; it is never sent.
   verify_call_pending = (tid == 0)
   used = 0
   responses = 0
   bad = 0
   exhausted = 0
   first_bad = ""
end

local function pool_request(n)
   local body = bodies[n]
   return header_block .. #body .. "\r\n\r\n" .. body
end

function request()
   if verify_call_pending then
      verify_call_pending = false
      if pool_size > 0 then return pool_request(1) end
   end
   if used >= pool_size then
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/healthz", {}, nil)
   end
   used = used + 1
   return pool_request(used)
end

function response(status, headers, body)
   responses = responses + 1
   if status ~= ok_status then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
   end
end

function done(summary, latency, requests)
   local nthreads = env_number("BENCH_THREADS", 1)
   local offset = env_number("BENCH_POOL_OFFSET", 0)
   local max_used, bad_total, exhausted_total, used_total, first = 0, 0, 0, 0, ""
   for _, t in ipairs(threads) do
      local u = t:get("used") or 0
      used_total = used_total + u
      if u > max_used then max_used = u end
      bad_total = bad_total + (t:get("bad") or 0)
      exhausted_total = exhausted_total + (t:get("exhausted") or 0)
      local fb = t:get("first_bad") or ""
      if first == "" and fb ~= "" then first = fb end
   end
   local state = os.getenv("BENCH_POOL_STATE")
   if state and state ~= "" then
      local f = assert(io.open(state, "w"))
      f:write(string.format("%d\n", offset + max_used * nthreads))
      f:close()
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d bad=%d sent=%d" ..
      " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d exhausted=%d\n",
      summary.requests, summary.duration, summary.requests / secs,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      bad_total, used_total, e.connect, e.read, e.write, e.timeout, exhausted_total))
   if first ~= "" then
      io.write("BENCH_FIRST_BAD " .. string.gsub(first, "\n", " ") .. "\n")
   end
end
LUA

    # client_id maker: one create-client (itr) or ckyc/search (ckyc) per record, --parallel at a time on
    # kept-alive connections. Writes the next step's request body for each success and prints a CLIENTS_RESULT
    # line. A 429 (the password pool's queue is full, or a rate limit) waits for Retry-After and is retried; the
    # wait counts in the measured time.
    cat >"$TMP/clients.py" <<'PY'
import argparse, http.client, json, sys, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--mode", choices=["itr", "ckyc"], required=True)
ap.add_argument("--records", required=True)
ap.add_argument("--limit", type=int, default=0)
ap.add_argument("--parallel", type=int, default=16)
ap.add_argument("--password", required=True)
ap.add_argument("--out", required=True)
a = ap.parse_args()

jobs = []
with open(a.records) as f:
    for line in f:
        if not line.strip():
            continue
        r = json.loads(line)
        keys = r["keys"]
        if a.mode == "itr":
            jobs.append(("/api/v1/itr/create-client", {"username": keys["pan"], "password": a.password}, None))
        else:
            jobs.append(("/api/v1/ckyc/search", {"id_number": keys["id_number"], "document_type": keys["document_type"]},
                         r["mobile"][-10:]))
        if a.limit and len(jobs) >= a.limit:
            break

headers = {"Authorization": "Bearer " + a.token, "Content-Type": "application/json"}
lock = threading.Lock()
state = {"next": 0, "ok": 0, "failed": 0, "retries": 0, "first_failure": ""}
bodies = []


def take():
    with lock:
        i = state["next"]
        if i >= len(jobs):
            return None
        state["next"] = i + 1
        return jobs[i]


def fail(reason):
    with lock:
        state["failed"] += 1
        if not state["first_failure"]:
            state["first_failure"] = reason[:300]


def worker():
    conn = None
    while True:
        job = take()
        if job is None:
            break
        path, body, mobile = job
        payload = json.dumps(body, separators=(",", ":"))
        broken = 0
        while True:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
                conn.request("POST", path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status, retry_after = resp.status, resp.getheader("Retry-After")
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                if conn is not None:
                    conn.close()
                conn = None
                broken += 1
                if broken > 3:
                    fail("connection: %s" % error)
                    break
                with lock:
                    state["retries"] += 1
                time.sleep(0.1)
                continue
            if status == 429:
                with lock:
                    state["retries"] += 1
                try:
                    wait = float(retry_after)
                except (TypeError, ValueError):
                    wait = 0.2
                time.sleep(min(max(wait, 0.05), 5.0))
                continue
            if status != 200:
                fail("%d %s" % (status, data.decode("utf-8", "replace")))
                break
            try:
                client_id = json.loads(data)["data"]["client_id"]
            except (ValueError, KeyError, TypeError):
                fail("200 without data.client_id: %s" % data.decode("utf-8", "replace"))
                break
            line = {"client_id": client_id}
            if mobile is not None:
                line["mobile_number"] = mobile
            with lock:
                state["ok"] += 1
                bodies.append(json.dumps(line, separators=(",", ":")))
            break
    if conn is not None:
        conn.close()


started = time.monotonic()
workers = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(a.parallel, len(jobs))))]
for w in workers:
    w.start()
for w in workers:
    w.join()
seconds = max(time.monotonic() - started, 1e-6)
with open(a.out, "w") as f:
    f.write("".join(b + "\n" for b in bodies))
print("CLIENTS_RESULT ok=%d failed=%d retries=%d seconds=%.3f rate=%.1f" % (
    state["ok"], state["failed"], state["retries"], seconds, state["ok"] / seconds))
if state["first_failure"]:
    print("CLIENTS_FIRST_FAILURE " + state["first_failure"].replace("\n", " "))
PY
}

# --- the run ---------------------------------------------------------------------------------------------

STAMP=$(date +%Y%m%d-%H%M%S)
RUN_DIR="$RESULTS_ROOT/profiles-$STAMP"
mkdir -p "$RUN_DIR"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/otpgate-profiles.XXXXXX")
DATABASE="sqlite:$TMP/otpgate.sqlite"

ensure_wrk
build_server
write_helpers

NPROC=$(nproc)
PASSWORD_THREADS="${OTPGATE_PASSWORD_THREADS:-$(( NPROC / 2 > 0 ? NPROC / 2 : 1 ))}"
{
    echo "date:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:       $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown) ($(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown))"
    echo "nproc:        $NPROC"
    echo "cpu:          $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "kernel:       $(uname -sr)"
    echo "wrk:          $(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//' || true)"
    echo "binary:       $BIN"
    echo "database:     SQLite in $TMP ($(stat -f -c %T "$TMP" 2>/dev/null || echo unknown)), synchronous ${OTPGATE_SQLITE_SYNCHRONOUS:-FULL (default)}"
    echo "load:         wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, measured ${DURATION}s, timeout ${TIMEOUT}s"
    echo "cpu pinning:  server=${SERVER_CPUS:-none} wrk+helpers=${WRK_CPUS:-none}"
    echo "records:      $RECORDS itr (scrypt ln=14, one shared hash); pool hash $POOL_HASH; pool ${POOL}"
    echo "eko, m2p:     Eko initiator_id $EKO_INITIATOR, one signature per wrk run; M2P customers ${M2P_CUSTOMERS}, at most $M2P_USES generates each (server: $STARTS_PER_DESTINATION starts per destination)"
    echo "passwords:    ${PASSWORD_THREADS} password thread(s) $( [[ -n ${OTPGATE_PASSWORD_THREADS:-} ]] && echo '(OTPGATE_PASSWORD_THREADS)' || echo '(the default: half the cores, assumed)' ); helper parallelism $PARALLEL"
} >"$RUN_DIR/environment.txt"
log "results go to $RUN_DIR"
sed 's/^/    /' "$RUN_DIR/environment.txt" >&2

ROWS=()        # "workload|rps|p50_us|p99_us|bad|socket_errors|note"
NON2XX=()      # "workload: N": wrk's own "Non-2xx or 3xx responses" count of each measured run
SETUP_ROWS=()  # "step|count|seconds|per_second|note"

add_row() { # workload file note
    local f=$2
    local sock=$(( $(result "$f" connect_errors) + $(result "$f" read_errors) + $(result "$f" write_errors) + $(result "$f" timeouts) ))
    ROWS+=("$1|$(result "$f" rps)|$(result "$f" p50_us)|$(result "$f" p99_us)|$(result "$f" bad)|$sock|$3")
    NON2XX+=("$1: $(wrk_non2xx "$f")")
}

# make_records FILE COUNT ARGS...: bench/make-records.py into FILE.
make_records() {
    local file=$1 count=$2
    shift 2
    python3 "$BENCH_DIR/make-records.py" "$count" "$@" >"$file" || die "bench/make-records.py $count $* failed"
}

# import_records LABEL NAME FILE COUNT: times `otpgate records import` (no server running) and adds a setup row.
import_records() {
    local label=$1 name=$2 file=$3 count=$4
    local out="$RUN_DIR/import-$name.log" t0 t1 secs rate own imported note
    log "importing $count records ($label)"
    t0=$(now)
    otpgate_cli records import --tenant "$TENANT" "$file" >"$out" 2>&1 \
        || { tail -n 20 "$out" >&2; die "records import ($label) failed; see $out"; }
    t1=$(now)
    secs=$(seconds_between "$t0" "$t1")
    rate=$(per_second "$count" "$secs")
    imported=$(sed -n 's/^imported \([0-9]*\) records.*/\1/p' "$out" | tail -n 1)
    own=$(sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p' "$out" | tail -n 1)
    [[ $imported == "$count" ]] || warn "records import ($label) reported '${imported:-nothing}' records, expected $count (see $out)"
    note="wall time, process start included; the command's own figure: ${own:-n/a}/s"
    if [[ $name == itr ]]; then
        if awk -v r="$rate" 'BEGIN { exit !(r >= 2000) }'; then note="target >= 2,000/s met; $note"
        else note="BELOW the 2,000/s target; $note"; warn "records import: $rate records/s, below the 2,000/s target"; fi
    fi
    SETUP_ROWS+=("$label|$count|$secs|$rate|$note")
    log "import ($label): $rate records/s"
}

# make_clients LABEL NAME MODE RECORDS LIMIT OUT: client_ids from the running server; adds a setup row.
make_clients() {
    local label=$1 name=$2 mode=$3 records=$4 limit=$5 bodies=$6
    local out="$RUN_DIR/clients-$name.txt" prefix=()
    if [[ -n $WRK_CPUS ]]; then prefix=(taskset -c "$WRK_CPUS"); fi
    log "$label: $limit requests, $PARALLEL at a time"
    ${prefix[@]+"${prefix[@]}"} python3 "$TMP/clients.py" --port "$SERVER_PORT" --token "$TOKEN" --mode "$mode" \
        --records "$records" --limit "$limit" --parallel "$PARALLEL" --password "$BENCH_PASSWORD" --out "$bodies" \
        >"$out" 2>&1 || { tail -n 20 "$out" >&2; die "the client_id helper failed ($label); see $out"; }
    require_alive "$SERVER_PID" "$label"
    local ok failed retries secs rate
    ok=$(result "$out" ok); failed=$(result "$out" failed); retries=$(result "$out" retries)
    secs=$(result "$out" seconds); rate=$(result "$out" rate)
    if [[ $failed -gt 0 ]]; then
        warn "$label: $failed of $limit failed (first: $(sed -n 's/^CLIENTS_FIRST_FAILURE //p' "$out" | head -c 200))"
    fi
    [[ $ok -gt 0 ]] || die "$label: no request succeeded; see $out"
    CLIENT_NOTE="$PARALLEL in flight; $retries retries after 429 or a dropped connection; $failed failed"
    SETUP_ROWS+=("$label|$ok|$secs|$rate|$CLIENT_NOTE")
    CLIENT_RATE=$rate
    log "$label: $rate/s ($ok made)"
}

# run_start NAME: native start, warm-up then measured, with bench/start.lua. Sets LAST_RPS.
run_start() {
    local name=$1
    if [[ $WARMUP -gt 0 ]]; then
        log "native start: warm-up ${WARMUP}s"
        run_wrk "$RUN_DIR/$name-warmup.txt" "$WARMUP" "$BENCH_DIR/start.lua" "$API_KEY"
        require_alive "$SERVER_PID" "the start warm-up"
    fi
    log "native start: measuring ${DURATION}s"
    run_wrk "$RUN_DIR/$name.txt" "$DURATION" "$BENCH_DIR/start.lua" "$API_KEY"
    require_alive "$SERVER_PID" "the start benchmark"
    report_bad "$RUN_DIR/$name.txt" "native start ($name)"
    LAST_RPS=$(result "$RUN_DIR/$name.txt" rps)
    log "native start: $LAST_RPS requests/s"
}

# run_pool NAME PATH BODIES: a pool workload, warm-up then measured. Sets LAST_FILE and LAST_NOTE.
run_pool() {
    local name=$1 path=$2 bodies=$3
    local have state="$TMP/$name.offset" offset=0
    have=$(wc -l <"$bodies" | tr -d ' ')
    [[ $have -ge $THREADS ]] || die "$name: only $have request bodies in the pool"
    if [[ $WARMUP -gt 0 ]]; then
        log "$name: warm-up ${WARMUP}s"
        run_wrk "$RUN_DIR/$name-warmup.txt" "$WARMUP" "$TMP/pool.lua" "$TOKEN" \
            BENCH_PATH="$path" BENCH_POOL="$bodies" BENCH_POOL_OFFSET=0 BENCH_POOL_STATE="$state"
        require_alive "$SERVER_PID" "the $name warm-up"
        report_bad "$RUN_DIR/$name-warmup.txt" "$name warm-up"
        offset=$(tr -d '[:space:]' <"$state")
        is_uint "$offset" || die "$name warm-up wrote no pool offset"
        [[ $offset -lt $have ]] || die "the $name warm-up used the whole pool of $have: set BENCH_PROFILE_POOL higher"
    fi
    log "$name: measuring ${DURATION}s ($((have - offset)) client_ids left)"
    LAST_FILE="$RUN_DIR/$name.txt"
    run_wrk "$LAST_FILE" "$DURATION" "$TMP/pool.lua" "$TOKEN" \
        BENCH_PATH="$path" BENCH_POOL="$bodies" BENCH_POOL_OFFSET="$offset" BENCH_POOL_STATE="$state"
    require_alive "$SERVER_PID" "the $name benchmark"
    report_bad "$LAST_FILE" "$name"
    LAST_NOTE="pool $have, $((have - offset)) for the measured run"
    if [[ $(result "$LAST_FILE" exhausted) -gt 0 ]]; then LAST_NOTE="POOL EXHAUSTED, rps too low; $LAST_NOTE"; fi
    log "$name: $(result "$LAST_FILE" rps) requests/s"
}

# eko_sign: a fresh secret-key-timestamp (now, in ms) and its secret-key, exported for bench/eko-send.lua.
# secret-key = base64(HMAC-SHA256(key = the ASCII bytes of base64(access_key), message = the timestamp text)).
# The access key goes to Python in the environment, not on a command line.
eko_sign() {
    local signed
    signed=$(EKO_ACCESS_KEY="$EKO_ACCESS_KEY" python3 -c '
import base64, hashlib, hmac, os, time
timestamp = str(int(time.time() * 1000))
key = base64.b64encode(os.environ["EKO_ACCESS_KEY"].encode("ascii"))
print(timestamp, base64.b64encode(hmac.new(key, timestamp.encode("ascii"), hashlib.sha256).digest()).decode("ascii"))') \
        || die "could not sign the Eko timestamp"
    export BENCH_EKO_TIMESTAMP=${signed%% *} BENCH_EKO_SIGNATURE=${signed#* }
    [[ $BENCH_EKO_TIMESTAMP =~ ^[0-9]{13}$ && -n $BENCH_EKO_SIGNATURE ]] || die "bad Eko signature: $signed"
}

# run_eko NAME: Eko's send, warm-up then measured, each with a signature made just before it. Sets LAST_FILE and
# LAST_NOTE.
run_eko() {
    local name=$1 state="$TMP/$1.seq" offset=0
    export BENCH_EKO_DEVELOPER_KEY="$EKO_DEVELOPER_KEY"
    if [[ $WARMUP -gt 0 ]]; then
        log "$name: warm-up ${WARMUP}s"
        eko_sign
        run_wrk "$RUN_DIR/$name-warmup.txt" "$WARMUP" "$BENCH_DIR/eko-send.lua" "" \
            BENCH_EKO_INITIATOR="$EKO_INITIATOR" BENCH_EKO_REF_PREFIX="bench-$STAMP-" BENCH_SEQ_OFFSET=0 BENCH_SEQ_STATE="$state"
        require_alive "$SERVER_PID" "the $name warm-up"
        report_bad "$RUN_DIR/$name-warmup.txt" "$name warm-up"
        offset=$(tr -d '[:space:]' <"$state")
        is_uint "$offset" || die "$name warm-up wrote no sequence offset"
    fi
    log "$name: measuring ${DURATION}s (mobiles from $((6000000000 + offset)) on)"
    LAST_FILE="$RUN_DIR/$name.txt"
    eko_sign
    run_wrk "$LAST_FILE" "$DURATION" "$BENCH_DIR/eko-send.lua" "" \
        BENCH_EKO_INITIATOR="$EKO_INITIATOR" BENCH_EKO_REF_PREFIX="bench-$STAMP-" BENCH_SEQ_OFFSET="$offset" BENCH_SEQ_STATE="$state"
    require_alive "$SERVER_PID" "the $name benchmark"
    report_bad "$LAST_FILE" "$name"
    unset BENCH_EKO_DEVELOPER_KEY BENCH_EKO_TIMESTAMP BENCH_EKO_SIGNATURE
    LAST_NOTE="a new mobile and client_ref_id each request; one signature per wrk run"
    log "$name: $(result "$LAST_FILE" rps) requests/s"
}

# m2p_token: POST /auth/token with the M2P credential; prints the access token.
m2p_token() {
    local body reply
    body=$(printf '{"clientId":"%s","clientSecret":"%s","grantType":"client_credentials"}' "$M2P_CLIENT_ID" "$M2P_CLIENT_SECRET")
    if command -v curl >/dev/null 2>&1; then
        reply=$(curl -fsS --max-time 30 -X POST -H 'Content-Type: application/json' --data-binary @- \
            "http://127.0.0.1:$SERVER_PORT/auth/token" <<<"$body") || die "POST /auth/token failed"
    else
        reply=$(python3 -c '
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=30).read().decode())' "http://127.0.0.1:$SERVER_PORT/auth/token" <<<"$body") \
            || die "POST /auth/token failed"
    fi
    json_field access_token <<<"$reply" || die "no access_token in the answer of POST /auth/token"
}

# run_m2p NAME CUSTOMERS: M2P's generate, warm-up then measured, over the entityIds in CUSTOMERS (one a line), each
# customer at most M2P_USES times in all. Sets LAST_FILE and LAST_NOTE.
run_m2p() {
    local name=$1 customers=$2 state="$TMP/$1.offset" offset=0 have limit access
    have=$(wc -l <"$customers" | tr -d ' ')
    limit=$((have * M2P_USES))
    [[ $have -ge $THREADS ]] || die "$name: only $have customers"
    log "$name: POST /auth/token"
    access=$(m2p_token)
    local exhausted="the customers ran out (each takes at most $M2P_USES generates), so requests/s is too low: rerun with a larger BENCH_M2P_CUSTOMERS"
    if [[ $WARMUP -gt 0 ]]; then
        log "$name: warm-up ${WARMUP}s"
        run_wrk "$RUN_DIR/$name-warmup.txt" "$WARMUP" "$BENCH_DIR/m2p-generate.lua" "$access" \
            BENCH_M2P_TENANT="$M2P_X_TENANT" BENCH_POOL="$customers" BENCH_POOL_USES="$M2P_USES" \
            BENCH_POOL_OFFSET=0 BENCH_POOL_STATE="$state"
        require_alive "$SERVER_PID" "the $name warm-up"
        report_bad "$RUN_DIR/$name-warmup.txt" "$name warm-up" "$exhausted"
        offset=$(tr -d '[:space:]' <"$state")
        is_uint "$offset" || die "$name warm-up wrote no pool offset"
        [[ $offset -lt $limit ]] || die "the $name warm-up used all $limit generates of $have customers: set BENCH_M2P_CUSTOMERS higher"
    fi
    log "$name: measuring ${DURATION}s ($((limit - offset)) of $limit generates left)"
    LAST_FILE="$RUN_DIR/$name.txt"
    run_wrk "$LAST_FILE" "$DURATION" "$BENCH_DIR/m2p-generate.lua" "$access" \
        BENCH_M2P_TENANT="$M2P_X_TENANT" BENCH_POOL="$customers" BENCH_POOL_USES="$M2P_USES" \
        BENCH_POOL_OFFSET="$offset" BENCH_POOL_STATE="$state"
    require_alive "$SERVER_PID" "the $name benchmark"
    report_bad "$LAST_FILE" "$name" "$exhausted"
    LAST_NOTE="$have customers, at most $M2P_USES generates each; $((limit - offset)) generates left for the measured run"
    if [[ $(result "$LAST_FILE" exhausted) -gt 0 ]]; then LAST_NOTE="POOL EXHAUSTED, rps too low; $LAST_NOTE"; fi
    log "$name: $(result "$LAST_FILE" rps) requests/s"
}

# 1. Tenant, credentials, the scrypt records.
log "creating the tenant and the Surepass credential"
created=$(otpgate_cli tenant create bench --json 2>"$RUN_DIR/tenant-create.log") \
    || { cat "$RUN_DIR/tenant-create.log" >&2; die "otpgate tenant create failed"; }
TENANT=$(json_field tenant_id <<<"$created") || die "no tenant_id in the output of tenant create: $created"
API_KEY=$(json_field api_key <<<"$created") || die "no api_key in the output of tenant create"
created=$(otpgate_cli credentials create --tenant "$TENANT" --profile surepass --json 2>"$RUN_DIR/credentials-create.log") \
    || { cat "$RUN_DIR/credentials-create.log" >&2; die "otpgate credentials create failed"; }
TOKEN=$(json_field token <<<"$created") || die "no token in the output of credentials create"
log "creating the Eko and M2P credentials"
created=$(otpgate_cli credentials create --tenant "$TENANT" --profile eko --initiator-id "$EKO_INITIATOR" --json \
    2>"$RUN_DIR/credentials-create-eko.log") || { cat "$RUN_DIR/credentials-create-eko.log" >&2; die "otpgate credentials create --profile eko failed"; }
EKO_DEVELOPER_KEY=$(json_field developer_key <<<"$created") || die "no developer_key in the output of credentials create --profile eko"
EKO_ACCESS_KEY=$(json_field access_key <<<"$created") || die "no access_key in the output of credentials create --profile eko"
[[ $(json_field initiator_id <<<"$created") == "$EKO_INITIATOR" ]] || die "the Eko credential's initiator_id is not $EKO_INITIATOR"
created=$(otpgate_cli credentials create --tenant "$TENANT" --profile m2p --json 2>"$RUN_DIR/credentials-create-m2p.log") \
    || { cat "$RUN_DIR/credentials-create-m2p.log" >&2; die "otpgate credentials create --profile m2p failed"; }
M2P_CLIENT_ID=$(json_field client_id <<<"$created") || die "no client_id in the output of credentials create --profile m2p"
M2P_CLIENT_SECRET=$(json_field client_secret <<<"$created") || die "no client_secret in the output of credentials create --profile m2p"
M2P_X_TENANT=$(json_field x_tenant_id <<<"$created") || die "no x_tenant_id in the output of credentials create --profile m2p"
created=""
log "tenant $TENANT"

log "generating $RECORDS itr records (one precomputed scrypt hash)"
make_records "$TMP/itr.jsonl" "$RECORDS" --kind itr --start 0 --hash scrypt
import_records "records import: itr, scrypt hashes precomputed" itr "$TMP/itr.jsonl" "$RECORDS"

# 2. First server: native start (to size the pools) and the password-check rate.
launch_server first
run_start start-first
START_FIRST_RPS=$LAST_RPS
add_row "start, first server (sizes the pools)" "$RUN_DIR/start-first.txt" "before the pool records existed"
make_clients "create-client (password check) rate, scrypt ln=14" password-check itr "$TMP/itr.jsonl" "$PASSWORD_CHECKS" \
    "$TMP/password-check-bodies.txt"
COST_MS=$(awk -v t="$PASSWORD_THREADS" -v r="$CLIENT_RATE" 'BEGIN { if (r > 0) printf "%.0f", t * 1000 / r; else print "n/a" }')
SETUP_ROWS[-1]="${SETUP_ROWS[-1]}; about $COST_MS ms of one core per check with $PASSWORD_THREADS password thread(s) (the hash's cost is ~50 ms)"
FIRST_RSS=$(peak_rss_kb "$SERVER_PID")
stop_server

# 3. The pools' records, imported while no server runs.
if [[ $POOL == auto ]]; then
    POOL=$(awk -v r="$START_FIRST_RPS" -v s=$((WARMUP + DURATION)) 'BEGIN {
        n = r * s * 1.5; n = int((n + 999) / 1000) * 1000; if (n < 5000) n = 5000; print n }')
fi
[[ $POOL -ge $THREADS ]] || die "BENCH_PROFILE_POOL must be at least BENCH_THREADS"
log "pool: $POOL client_ids for each of generate-2fa and ckyc-v2/generate-otp"
make_records "$TMP/itr-pool.jsonl" "$POOL" --kind itr --start "$RECORDS" --hash "$POOL_HASH"
make_records "$TMP/ckyc-pool.jsonl" "$POOL" --kind ckyc --start $((RECORDS + POOL))
import_records "records import: itr pool, $POOL_HASH hashes precomputed" itr-pool "$TMP/itr-pool.jsonl" "$POOL"
import_records "records import: ckyc pool" ckyc-pool "$TMP/ckyc-pool.jsonl" "$POOL"
if [[ $M2P_CUSTOMERS == auto ]]; then
    M2P_CUSTOMERS=$(awk -v r="$START_FIRST_RPS" -v s=$((WARMUP + DURATION)) -v u="$M2P_USES" 'BEGIN {
        n = r * s * 1.5 / u; n = int((n + 999) / 1000) * 1000; if (n < 2000) n = 2000; print n }')
fi
[[ $M2P_CUSTOMERS -ge $THREADS ]] || die "BENCH_M2P_CUSTOMERS must be at least BENCH_THREADS"
log "M2P: $M2P_CUSTOMERS customers, at most $M2P_USES generates each"
# Indices after the other pools': no customer shares a mobile with an itr or ckyc record.
make_records "$TMP/customers.jsonl" "$M2P_CUSTOMERS" --kind customer --start $((RECORDS + 2 * POOL))
python3 -c '
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for line in src:
        out.write(json.loads(line)["keys"]["entity_id"] + "\n")' "$TMP/customers.jsonl" "$TMP/m2p-entities.txt" \
    || die "could not list the customers' entity_ids"
import_records "records import: M2P customers" customers "$TMP/customers.jsonl" "$M2P_CUSTOMERS"

# 4. Second server: the client_ids, then native start and the four OTP-sending steps side by side.
launch_server profiles
PROFILES_STARTED=$SECONDS
make_clients "create-client for the generate-2fa pool ($POOL_HASH)" itr-pool itr "$TMP/itr-pool.jsonl" "$POOL" "$TMP/2fa-bodies.txt"
make_clients "ckyc/search for the generate-otp pool" ckyc-pool ckyc "$TMP/ckyc-pool.jsonl" "$POOL" "$TMP/otp-bodies.txt"

run_start start
START_RPS=$LAST_RPS
add_row "start (POST /v1/verifications)" "$RUN_DIR/start.txt" "before the profile workloads"

run_pool generate-2fa /api/v1/itr/generate-2fa "$TMP/2fa-bodies.txt"
add_row "Surepass itr/generate-2fa" "$LAST_FILE" "$LAST_NOTE"
run_pool ckyc-generate-otp /api/v1/ckyc-v2/generate-otp "$TMP/otp-bodies.txt"
add_row "Surepass ckyc-v2/generate-otp" "$LAST_FILE" "$LAST_NOTE"
run_eko eko-send
add_row "Eko kyc/mobile/otp (send)" "$LAST_FILE" "$LAST_NOTE"
run_m2p m2p-generate "$TMP/m2p-entities.txt"
add_row "M2P prepaid otp/generate" "$LAST_FILE" "$LAST_NOTE"
# The database grows through the run (every workload adds verifications, sessions and messages), so a second native
# start after the profile workloads brackets them: the ratios are to the mean of the two.
run_start start-after
AFTER_RPS=$LAST_RPS
add_row "start, after the profile workloads" "$RUN_DIR/start-after.txt" "after the profile workloads"
BASE_RPS=$(awk -v a="$START_RPS" -v b="$AFTER_RPS" 'BEGIN { printf "%.2f", (a + b) / 2 }')
PROFILES_RSS=$(peak_rss_kb "$SERVER_PID")
if [[ $((SECONDS - PROFILES_STARTED)) -ge 1700 ]]; then
    warn "the second server ran $((SECONDS - PROFILES_STARTED)) s: the first client_ids may have expired (default lifetime 1800 s)"
fi
stop_server

# --- summary ---------------------------------------------------------------------------------------------

ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
mib() { if [[ -n $1 ]]; then awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; else echo "n/a"; fi; }

{
    echo "# OTPGate vendor-profile benchmark $STAMP"
    echo
    sed 's/^/    /' "$RUN_DIR/environment.txt"
    echo
    line() { printf '| %-37s | %10s | %10s | %10s | %7s | %8s | %15s | %s |\n' "$@"; }
    line workload "requests/s" p50 p99 "non-OK" "sock err" "vs native start" note
    line "$(printf -- '-%.0s' {1..37})" "---------:" "---------:" "---------:" "------:" "-------:" "--------------:" "----"
    for row in ${ROWS[@]+"${ROWS[@]}"}; do
        IFS='|' read -r name rps p50 p99 bad sock note <<<"$row"
        r=$(ratio "$BASE_RPS" "$rps")
        case $name in
            Surepass*|Eko*|M2P*)
                if [[ $note == *"POOL EXHAUSTED"* ]]; then note="target not judged; $note"
                elif awk -v x="$r" 'BEGIN { exit !(x >= 0.5) }'; then note="target >= 0.50 met; $note"
                else note="BELOW the 0.50 target; $note"; fi
                ;;
        esac
        line "$name" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$bad" "$sock" "$r" "$note"
    done
    echo
    echo "non-OK: answers other than 2xx (start) or 200 (the Surepass steps), other than 200 with Eko's \"status\":0"
    echo "envelope (Eko send), other than 200 with a traceNumber (M2P generate). Ratios are to the mean native start"
    echo "($BASE_RPS/s) of the second server's two start runs, one right before the Surepass, Eko and M2P workloads (run in"
    echo "that order) and one right after them: the database grows through the run. Peak RSS: first server"
    echo "$(mib "$FIRST_RSS"), second server $(mib "$PROFILES_RSS") (including the client_id pools)."
    echo
    echo "wrk's own non-2xx counts (\"Non-2xx or 3xx responses\", statuses of 400 and over) of the measured runs:"
    printf -- '- %s\n' ${NON2XX[@]+"${NON2XX[@]}"}
    echo
    sline() { printf '| %-58s | %7s | %9s | %11s | %s |\n' "$@"; }
    sline "step" count seconds "per second" note
    sline "$(printf -- '-%.0s' {1..58})" "------:" "--------:" "----------:" "----"
    for row in ${SETUP_ROWS[@]+"${SETUP_ROWS[@]}"}; do
        IFS='|' read -r name count secs rate note <<<"$row"
        sline "$name" "$count" "$secs" "$rate" "$note"
    done
    if [[ ${#WARNINGS[@]} -gt 0 ]]; then
        echo
        echo "Warnings:"
        for w in "${WARNINGS[@]}"; do echo "- $w"; done
    fi
} >"$RUN_DIR/summary.md"

{
    printf 'workload\trequests_per_s\tp50_us\tp99_us\tnon_ok\tsocket_errors\tratio_to_start\tnote\n'
    for row in ${ROWS[@]+"${ROWS[@]}"}; do
        IFS='|' read -r name rps p50 p99 bad sock note <<<"$row"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$p50" "$p99" "$bad" "$sock" "$(ratio "$BASE_RPS" "$rps")" "$note"
    done
    for row in ${SETUP_ROWS[@]+"${SETUP_ROWS[@]}"}; do
        IFS='|' read -r name count secs rate note <<<"$row"
        printf '%s\t%s\t\t\t\t\t\t%s (%s in %s s)\n' "$name" "$rate" "$note" "$count" "$secs"
    done
} >"$RUN_DIR/summary.tsv"

echo
cat "$RUN_DIR/summary.md"
echo
echo "Full wrk output, helper and import logs, server logs: $RUN_DIR"

if [[ $STRICT == 1 && ${#WARNINGS[@]} -gt 0 ]]; then exit 3; fi
