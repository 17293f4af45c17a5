#!/usr/bin/env bash
# OTPGate HTTP benchmark: start-verification and approved-check throughput, latency, CPU per request and peak RSS,
# with wrk, each also as a ratio of the bare route's (POST /bench/bare) in the same run.
# Usage: bash bench/run.sh        (knobs are environment variables; see bench/README.md)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-3}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
THREADS="${BENCH_THREADS:-2}"
TIMEOUT="${BENCH_TIMEOUT:-10}"
CHECK_POOL="${BENCH_CHECK_POOL:-auto}"
WORKLOADS="${BENCH_WORKLOADS:-bare start check}"
PRELOAD_TIMEOUT="${BENCH_PRELOAD_TIMEOUT:-480}"
PRELOAD_STALL="${BENCH_PRELOAD_STALL:-15}"
RESULTS_ROOT="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
SERVER_CPUS="${BENCH_SERVER_CPUS:-}"
WRK_CPUS="${BENCH_WRK_CPUS:-}"
STRICT="${BENCH_STRICT:-0}"
# The check preload asks for the longest code lifetime the API allows, so the pool outlives the runs.
PRELOAD_TTL=600

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[bench %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; WARNINGS+=("$*"); }
die() { printf '[bench %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
WARNINGS=()

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for knob in DURATION WARMUP CONNECTIONS THREADS TIMEOUT PRELOAD_TIMEOUT PRELOAD_STALL; do
    is_uint "${!knob}" || die "BENCH_$knob must be a whole number, not '${!knob}'"
done
[[ $DURATION -ge 1 ]] || die "BENCH_DURATION must be at least 1"
[[ $THREADS -ge 1 && $CONNECTIONS -ge $THREADS ]] || die "need BENCH_THREADS >= 1 and BENCH_CONNECTIONS >= BENCH_THREADS"
[[ $CHECK_POOL == auto ]] || is_uint "$CHECK_POOL" || die "BENCH_CHECK_POOL must be 'auto' or a whole number"
for w in $WORKLOADS; do
    [[ $w == bare || $w == start || $w == check ]] || die "BENCH_WORKLOADS may list only 'bare', 'start' and 'check', not '$w'"
done
[[ -n ${WORKLOADS// /} ]] || die "BENCH_WORKLOADS is empty"
[[ -r /proc/self/status ]] || die "this benchmark reads /proc (peak RSS): run it on Linux"

# --- state and cleanup -----------------------------------------------------------------------------------

TMP=""
SERVER_PIDS=()
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
    local pid
    for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do stop_pid "$pid" 15; done
    if [[ -n $TMP && -d $TMP ]]; then rm -rf -- "$TMP"; fi
    if [[ -n ${PG_CLUSTER_DIR:-} ]]; then bash "$REPO_ROOT/scripts/postgres-cluster.sh" remove "$PG_CLUSTER_DIR" || true; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -----------------------------------------------------------------------------------------------

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
    local _
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
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

# --- servers ---------------------------------------------------------------------------------------------

# BENCH_DATABASE=postgres: the servers run on a throwaway PostgreSQL cluster on loopback (one schema each).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_CLUSTER_DIR=""
PG_URL=""
ensure_pg_cluster() {
    [[ ${BENCH_DATABASE:-sqlite} == postgres && -z $PG_URL ]] || return 0
    local started
    started=$(bash "$REPO_ROOT/scripts/postgres-cluster.sh" start)
    PG_CLUSTER_DIR=${started%% *}
    PG_URL=${started#* }
    log "PostgreSQL cluster at $PG_URL ($PG_CLUSTER_DIR)"
}

database_for() {
    local name=$1 dir=$2
    if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then
        /usr/lib/postgresql/*/bin/psql "$PG_URL" -qc "CREATE SCHEMA bench_$name" >/dev/null
        echo "$PG_URL&search_path=bench_$name"
    else
        echo "sqlite:$dir/otpgate.sqlite"
    fi
}

# launch_server NAME DELIVERY: starts otpgate on a fresh database (SQLite, or PostgreSQL with
# BENCH_DATABASE=postgres) and waits until it is ready.
# Sets SERVER_PID, SERVER_PORT, SERVER_OUT (its stdout: the API key, then console messages) and API_KEY.
launch_server() {
    local name=$1 delivery=$2
    local dir="$TMP/$name"
    mkdir -p "$dir"
    SERVER_PORT=$(free_port)
    SERVER_OUT="$dir/stdout"
    local err="$RUN_DIR/server-$name.log"
    local prefix=()
    if [[ -n $SERVER_CPUS ]]; then prefix=(taskset -c "$SERVER_CPUS"); fi
    local database
    ensure_pg_cluster
    database=$(database_for "$name" "$dir")
    log "starting server '$name' (delivery=$delivery) on 127.0.0.1:$SERVER_PORT"
    ${prefix[@]+"${prefix[@]}"} env -u OTPGATE_DATABASE_URL -u OTPGATE_MASTER_KEY -u OTPGATE_MASTER_KEY_FILE \
        -u OTPGATE_HOST -u OTPGATE_PORT \
        OTPGATE_ENV=development OTPGATE_METRICS_PORT=0 \
        OTPGATE_MASTER_KEY="$(printf 'ab%.0s' {1..32})" \
        OTPGATE_POSTGRES_POOL_SIZE="${OTPGATE_POSTGRES_POOL_SIZE:-32}" \
        OTPGATE_POSTGRES_BATCH_CONCURRENCY="${OTPGATE_POSTGRES_BATCH_CONCURRENCY:-2}" \
        OTPGATE_POSTGRES_BATCH_SIZE="${OTPGATE_POSTGRES_BATCH_SIZE:-64}" \
        OTPGATE_DELIVERY="$delivery" \
        OTPGATE_LOG_LEVEL="${OTPGATE_LOG_LEVEL:-warning}" \
        OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND="${OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND:-1000000}" \
        OTPGATE_POLICY_PUMPING_GUARD="${OTPGATE_POLICY_PUMPING_GUARD:-off}" \
        OTPGATE_BENCH_BARE_ROUTE=on \
        "$BIN" serve --host 127.0.0.1 --port "$SERVER_PORT" --database "$database" \
        >"$SERVER_OUT" 2>"$err" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")

    local deadline=$((SECONDS + 120))
    API_KEY=""
    while :; do
        if ! alive "$SERVER_PID"; then
            tail -n 20 "$err" >&2 || true
            die "server '$name' exited during startup (log: $err)"
        fi
        if [[ -z $API_KEY ]]; then
            API_KEY=$(grep -oE 'otpg_[a-z2-7]{52}' "$SERVER_OUT" 2>/dev/null | head -n 1 || true)
        fi
        if [[ -n $API_KEY ]] && http_ok "$SERVER_PORT" /readyz; then break; fi
        [[ $SECONDS -lt $deadline ]] || die "server '$name' was not ready within 120 s (log: $err)"
        sleep 0.2
    done
    log "server '$name' is ready (pid $SERVER_PID)"
}

# The server's user + system CPU time so far, in clock ticks (every thread: the event loops, the writer, the linker).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)
# cpu_us_per_request TICKS_BEFORE TICKS_AFTER WRK_OUTPUT
cpu_us_per_request() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" -v n="$(result "$3" requests)" \
        'BEGIN { if (n > 0) printf "%.0f", (b - a) * 1000000 / hz / n; else print "" }'
}

peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# Resets VmHWM to the current RSS (Linux >= 4.0), so the peak is that of the workload that follows.
reset_peak_rss() { { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null; }

require_alive() { alive "$1" || die "the server (pid $1) died during $2; see $RUN_DIR/server-*.log"; }

# --- wrk -------------------------------------------------------------------------------------------------

# spawn_wrk OUTFILE DURATION_S SCRIPT [VAR=VALUE ...]: starts wrk in the background against the current
# server and sets WRK_PID. The VAR=VALUE pairs reach the Lua script through its environment.
spawn_wrk() {
    local out=$1 duration=$2 script=$3
    shift 3
    local prefix=()
    if [[ -n $WRK_CPUS ]]; then prefix=(taskset -c "$WRK_CPUS"); fi
    {
        echo "# wrk -t$THREADS -c$CONNECTIONS -d${duration}s --timeout ${TIMEOUT}s --latency -s $(basename "$script") http://127.0.0.1:$SERVER_PORT/"
        echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
    } >"$out"
    ${prefix[@]+"${prefix[@]}"} env BENCH_API_KEY="$API_KEY" BENCH_THREADS="$THREADS" "$@" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${duration}s" --timeout "${TIMEOUT}s" --latency \
        -s "$script" "http://127.0.0.1:$SERVER_PORT/" >>"$out" 2>&1 &
    WRK_PID=$!
}

# run_wrk OUTFILE DURATION_S SCRIPT [VAR=VALUE ...]: runs wrk in the foreground and checks it reported.
run_wrk() {
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

# result FILE KEY: a value from the BENCH_RESULT line the Lua done() printed.
result() { grep '^BENCH_RESULT ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

report_bad() { # file label
    local bad sock first
    bad=$(result "$1" bad)
    sock=$(( $(result "$1" connect_errors) + $(result "$1" read_errors) + $(result "$1" write_errors) + $(result "$1" timeouts) ))
    if [[ $bad -gt 0 ]]; then
        first=$(sed -n 's/^BENCH_FIRST_BAD //p' "$1" | head -n 1)
        warn "$2: $bad unexpected responses (first: ${first:0:200})"
    fi
    if [[ $sock -gt 0 ]]; then warn "$2: $sock socket errors/timeouts (see $1)"; fi
    if [[ $(result "$1" exhausted) -gt 0 ]]; then
        warn "$2: the verification pool ran out, so requests/s is too low: rerun with a larger BENCH_CHECK_POOL"
    fi
}

# --- the run ---------------------------------------------------------------------------------------------

STAMP=$(date +%Y%m%d-%H%M%S)
RUN_DIR="$RESULTS_ROOT/$STAMP"
mkdir -p "$RUN_DIR"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/otpgate-bench.XXXXXX")

ensure_wrk
build_server

COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
DESCRIBE=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
NPROC=$(nproc)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
WRK_VERSION=$(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//' || true)
FS_TYPE=$(stat -f -c %T "$TMP" 2>/dev/null || echo unknown)
{
    echo "date:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:       $COMMIT ($DESCRIBE)"
    echo "nproc:        $NPROC"
    echo "cpu:          ${CPU_MODEL:-unknown}"
    echo "kernel:       $(uname -sr)"
    echo "wrk:          $WRK_VERSION"
    echo "binary:       $BIN"
    if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then
        echo "database:     PostgreSQL $(/usr/lib/postgresql/*/bin/postgres --version | awk '{print $3}') on loopback (synchronous commit on), pool ${OTPGATE_POSTGRES_POOL_SIZE:-32}, batch concurrency ${OTPGATE_POSTGRES_BATCH_CONCURRENCY:-2} size ${OTPGATE_POSTGRES_BATCH_SIZE:-64}"
    else
        echo "database dir: $TMP ($FS_TYPE)"
        echo "sqlite sync:  ${OTPGATE_SQLITE_SYNCHRONOUS:-FULL (default)}"
    fi
    echo "load:         wrk -t$THREADS -c$CONNECTIONS, warm-up ${WARMUP}s, measured ${DURATION}s, timeout ${TIMEOUT}s"
    echo "cpu pinning:  server=${SERVER_CPUS:-none} wrk=${WRK_CPUS:-none}"
    echo "workloads:    $WORKLOADS"
} >"$RUN_DIR/environment.txt"
log "results go to $RUN_DIR"
sed 's/^/    /' "$RUN_DIR/environment.txt" >&2

ROWS=()      # "workload|rps|p50_us|p99_us|bad|socket_errors|rss_kb|note|cpu_us_per_request"
START_RPS=""

add_row() { # workload file rss_kb note cpu_us_per_request
    local f=$2
    local sock=$(( $(result "$f" connect_errors) + $(result "$f" read_errors) + $(result "$f" write_errors) + $(result "$f" timeouts) ))
    ROWS+=("$1|$(result "$f" rps)|$(result "$f" p50_us)|$(result "$f" p99_us)|$(result "$f" bad)|$sock|$3|$4|${5:-}")
}

# run_posts NAME PATH LABEL: a server of its own, then start.lua's request (a start's body, to a new number each
# time) POSTed to PATH: the start workload, and the bare route with the same request.
run_posts() {
    local name=$1 path=$2 label=$3
    launch_server "$name" discard
    local pid=$SERVER_PID
    if [[ $WARMUP -gt 0 ]]; then
        log "$name: warm-up ${WARMUP}s"
        run_wrk "$RUN_DIR/$name-warmup.txt" "$WARMUP" "$BENCH_DIR/start.lua" BENCH_PATH="$path"
        require_alive "$pid" "the $name warm-up"
    fi
    log "$name: measuring ${DURATION}s"
    local ticks
    ticks=$(cpu_ticks "$pid")
    run_wrk "$RUN_DIR/$name.txt" "$DURATION" "$BENCH_DIR/start.lua" BENCH_PATH="$path"
    require_alive "$pid" "the $name benchmark"
    local rss cpu
    cpu=$(cpu_us_per_request "$ticks" "$(cpu_ticks "$pid")" "$RUN_DIR/$name.txt")
    rss=$(peak_rss_kb "$pid")
    stop_pid "$pid" 15
    report_bad "$RUN_DIR/$name.txt" "$name"
    add_row "$label" "$RUN_DIR/$name.txt" "$rss" "server lifetime" "$cpu"
    log "$name: $(result "$RUN_DIR/$name.txt" rps) requests/s"
}

run_start() {
    run_posts start /v1/verifications "start (POST /v1/verifications)"
    START_RPS=$(result "$RUN_DIR/start.txt" rps)
}

run_check() {
    local pool=$CHECK_POOL
    if [[ $pool == auto ]]; then
        if [[ -n $START_RPS ]]; then
            # Enough for checks running three times as fast as starts, rounded up to 10k; at least 20k.
            pool=$(awk -v r="$START_RPS" -v s=$((WARMUP + DURATION)) 'BEGIN {
                n = r * s * 3; n = int((n + 9999) / 10000) * 10000; if (n < 20000) n = 20000; print n }')
        else
            pool=120000
        fi
    fi
    [[ $pool -ge $THREADS ]] || die "BENCH_CHECK_POOL must be at least BENCH_THREADS"

    launch_server check console
    local pid=$SERVER_PID out=$SERVER_OUT
    log "check: creating $pool verifications (console delivery) for the check pool"
    local preload="$RUN_DIR/check-preload.txt"
    local began=$SECONDS
    spawn_wrk "$preload" "$PRELOAD_TIMEOUT" "$BENCH_DIR/start.lua" \
        BENCH_START_LIMIT="$pool" BENCH_TTL_SECONDS="$PRELOAD_TTL"
    local n=0 last=-1 changed=$SECONDS next_note=$((SECONDS + 10))
    while :; do
        n=$(grep -cF '"type":"otpgate.console.message"' "$out" || true)
        if [[ $n -ge $pool ]]; then break; fi
        require_alive "$pid" "the check preload"
        if ! alive "$WRK_PID" && ! grep -q '^BENCH_RESULT ' "$preload"; then
            tail -n 30 "$preload" >&2 || true
            die "wrk stopped during the check preload; output in $preload"
        fi
        if [[ $n -ne $last ]]; then last=$n; changed=$SECONDS; fi
        if [[ $((SECONDS - changed)) -ge $PRELOAD_STALL ]]; then
            warn "check preload: no new messages for ${PRELOAD_STALL}s; going on with $n of $pool"
            break
        fi
        if [[ $((SECONDS - began)) -ge $PRELOAD_TIMEOUT ]]; then
            warn "check preload: gave up after ${PRELOAD_TIMEOUT}s with $n of $pool"
            break
        fi
        if [[ $SECONDS -ge $next_note ]]; then log "check: $n / $pool delivered"; next_note=$((SECONDS + 10)); fi
        sleep 0.5
    done
    local preload_secs=$((SECONDS - began))
    if alive "$WRK_PID"; then kill -INT "$WRK_PID" 2>/dev/null || true; fi
    wait "$WRK_PID" 2>/dev/null || true
    WRK_PID=""
    if grep -q '^BENCH_RESULT ' "$preload"; then
        local sent bad
        sent=$(result "$preload" sent)
        bad=$(result "$preload" bad)
        log "check: preload sent $sent starts in ${preload_secs}s ($bad unexpected responses seen)"
        if [[ $bad -gt 0 ]]; then report_bad "$preload" "check preload"; fi
    fi
    if [[ $preload_secs -gt $((PRELOAD_TTL - WARMUP - DURATION - 60)) ]]; then
        warn "check preload took ${preload_secs}s: the oldest codes may expire (TTL ${PRELOAD_TTL}s) before they are checked"
    fi

    local pairs="$TMP/check-pool.txt"
    grep -F '"type":"otpgate.console.message"' "$out" | awk '{
        if (!match($0, /"verification_id":"[^"]+"/)) next
        id = substr($0, RSTART + 19, RLENGTH - 20)
        if (!match($0, /"text":"[0-9]+ /)) next
        code = substr($0, RSTART + 8, RLENGTH - 9)
        print id, code
    }' >"$pairs"
    local have
    have=$(wc -l <"$pairs" | tr -d ' ')
    [[ $have -gt 0 ]] || die "no verification ids and codes found in the console output (see $preload)"
    log "check: pool of $have verifications ready"

    local rss_note="after the preload"
    if ! reset_peak_rss "$pid"; then rss_note="includes the preload"; fi
    local state="$TMP/check-pool.offset" offset=0
    if [[ $WARMUP -gt 0 ]]; then
        log "check: warm-up ${WARMUP}s"
        run_wrk "$RUN_DIR/check-warmup.txt" "$WARMUP" "$BENCH_DIR/check.lua" \
            BENCH_POOL="$pairs" BENCH_POOL_OFFSET=0 BENCH_POOL_STATE="$state"
        require_alive "$pid" "the check warm-up"
        offset=$(tr -d '[:space:]' <"$state")
        is_uint "$offset" || die "check warm-up wrote no pool offset"
        if [[ $offset -ge $have ]]; then
            die "the warm-up used the whole pool of $have verifications: set BENCH_CHECK_POOL higher"
        fi
    fi
    log "check: measuring ${DURATION}s ($((have - offset)) verifications left in the pool)"
    local ticks
    ticks=$(cpu_ticks "$pid")
    run_wrk "$RUN_DIR/check.txt" "$DURATION" "$BENCH_DIR/check.lua" \
        BENCH_POOL="$pairs" BENCH_POOL_OFFSET="$offset" BENCH_POOL_STATE="$state"
    require_alive "$pid" "the check benchmark"
    local rss cpu
    cpu=$(cpu_us_per_request "$ticks" "$(cpu_ticks "$pid")" "$RUN_DIR/check.txt")
    rss=$(peak_rss_kb "$pid")
    stop_pid "$pid" 15
    report_bad "$RUN_DIR/check.txt" "check"
    local note="peak $rss_note; pool $have"
    if [[ $(result "$RUN_DIR/check.txt" exhausted) -gt 0 ]]; then note="POOL EXHAUSTED, rps too low; $note"; fi
    add_row "check (POST .../check, approved)" "$RUN_DIR/check.txt" "$rss" "$note" "$cpu"
    log "check: $(result "$RUN_DIR/check.txt" rps) requests/s"
}

for w in $WORKLOADS; do
    case $w in
        bare) run_posts bare /bench/bare "bare (POST /bench/bare)" ;;
        start) run_start ;;
        check) run_check ;;
    esac
done

# --- summary ---------------------------------------------------------------------------------------------

ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
mib() { if [[ -n $1 ]]; then awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; else echo "n/a"; fi; }
# ratio A B: A / B with two decimals, empty when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.2f", a / b }'; }

# The bare route's row (the yardstick): its requests/s, p99 and CPU per request.
BARE_RPS="" BARE_P99="" BARE_CPU=""
for row in ${ROWS[@]+"${ROWS[@]}"}; do
    IFS='|' read -r name rps _ p99 _ _ _ _ cpu <<<"$row"
    if [[ $name == bare* ]]; then BARE_RPS=$rps BARE_P99=$p99 BARE_CPU=$cpu; fi
done
# Each row's ratios to the bare route: "rps_ratio|p99_ratio|cpu_ratio".
ratios_of() { # row
    local name rps p99 cpu
    IFS='|' read -r name rps _ p99 _ _ _ _ cpu <<<"$1"
    echo "$(ratio "$rps" "$BARE_RPS")|$(ratio "$p99" "$BARE_P99")|$(ratio "$cpu" "$BARE_CPU")"
}
# target LABEL ACTUAL OP LIMIT: one line of the targets block (OP is >= or <=).
target() {
    local verdict
    if [[ -z $2 ]]; then verdict="not measured"
    elif awk -v a="$2" -v op="$3" -v l="$4" 'BEGIN { exit !((op == ">=") ? a >= l : a <= l) }'; then verdict="met"
    else verdict="NOT MET"; fi
    printf -- '- %s: %s (target %s %s): %s\n' "$1" "${2:-n/a}" "$3" "$4" "$verdict"
}

{
    echo "# OTPGate benchmark $STAMP"
    echo
    sed 's/^/    /' "$RUN_DIR/environment.txt"
    echo
    line() { printf '| %-34s | %12s | %8s | %10s | %10s | %8s | %9s | %8s | %9s | %10s | %9s | %s |\n' "$@"; }
    line workload "requests/s" "x bare" p50 p99 "x bare" "CPU/req" "x bare" "non-2xx" "sock err" "peak RSS" note
    line "$(printf -- '-%.0s' {1..34})" "-----------:" "-------:" "---------:" "---------:" "-------:" "--------:" "-------:" \
        "--------:" "---------:" "--------:" "----"
    for row in ${ROWS[@]+"${ROWS[@]}"}; do
        IFS='|' read -r name rps p50 p99 bad sock rss note cpu <<<"$row"
        IFS='|' read -r rps_x p99_x cpu_x <<<"$(ratios_of "$row")"
        line "$name" "$rps" "$rps_x" "$(ms "$p50")" "$(ms "$p99")" "$p99_x" "${cpu:+$cpu µs}" "$cpu_x" "$bad" "$sock" \
            "$(mib "$rss")" "$note"
    done
    echo
    echo "x bare: the row's requests/s, p99 and CPU per request divided by the bare route's (POST /bench/bare) in this run."
    echo "non-2xx: responses other than 2xx (start) or other than 200 approved (check)."
    echo "peak RSS: the server's VmHWM just before it was stopped."
    echo "CPU/req: the server's CPU time (user + system, every thread) during the measured run, per request."
    if [[ -n $BARE_RPS ]]; then
        echo
        echo "Targets (issue 17; at 64 connections, and p99 < 10 ms at 16 connections):"
        postgres=0
        if [[ ${BENCH_DATABASE:-sqlite} == postgres ]]; then postgres=1; fi
        peak_kb=0
        for row in ${ROWS[@]+"${ROWS[@]}"}; do
            IFS='|' read -r name rps _ p99 _ _ rss _ _ <<<"$row"
            IFS='|' read -r rps_x p99_x _ <<<"$(ratios_of "$row")"
            if [[ -n $rss && $rss -gt $peak_kb ]]; then peak_kb=$rss; fi
            case $name in
                start*)
                    if [[ $postgres == 1 ]]; then
                        target "start requests/s × bare" "$rps_x" ">=" 0.15
                        target "start p99 × bare" "$p99_x" "<=" 5
                    else
                        target "start requests/s × bare" "$rps_x" ">=" 0.5
                        target "start p99 × bare" "$p99_x" "<=" 3
                    fi
                    ;;
                check*)
                    if [[ $postgres == 0 ]]; then
                        target "approved check requests/s × bare" "$rps_x" ">=" 0.33
                        target "approved check p99 × bare" "$p99_x" "<=" 3
                    fi
                    ;;
            esac
            if [[ $CONNECTIONS == 16 && $name != bare* ]]; then
                target "${name%% *} p99 in ms at 16 connections" "$(awk -v us="$p99" 'BEGIN { printf "%.2f", us / 1000 }')" "<=" 10
            fi
        done
        if [[ $postgres == 0 ]]; then target "peak RSS in MiB" "$(awk -v kb="$peak_kb" 'BEGIN { printf "%.1f", kb / 1024 }')" "<=" 100; fi
    fi
    if [[ ${#WARNINGS[@]} -gt 0 ]]; then
        echo
        echo "Warnings:"
        for w in "${WARNINGS[@]}"; do echo "- $w"; done
    fi
} >"$RUN_DIR/summary.md"

{
    printf 'workload\trequests_per_s\tp50_us\tp99_us\tnon_2xx\tsocket_errors\tpeak_rss_kb\tnote\tcpu_us_per_request'
    printf '\trps_x_bare\tp99_x_bare\tcpu_x_bare\n'
    for row in ${ROWS[@]+"${ROWS[@]}"}; do printf '%s|%s\n' "$row" "$(ratios_of "$row")" | tr '|' '\t'; done
} >"$RUN_DIR/summary.tsv"

echo
cat "$RUN_DIR/summary.md"
echo
echo "Full wrk output and server logs: $RUN_DIR"

if [[ $STRICT == 1 && ${#WARNINGS[@]} -gt 0 ]]; then exit 3; fi
