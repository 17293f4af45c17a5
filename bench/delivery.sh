#!/usr/bin/env bash
# OTPGate delivery benchmark (issue 15): does the outbox keep up with starts, and how long does a code take from
# the start request to the SMTP server's "250 accepted"?
#
# Usage:  bash bench/delivery.sh                       (OTPGATE_BIN defaults to .build/release/otpgate)
#         OTPGATE_BIN=.build/debug/otpgate DURATION=3 bash bench/delivery.sh    (smoke run; numbers meaningless)
#
# Workloads (DELIVERY_WORKLOADS, default "drain smtp"):
#   drain  One server with OTPGATE_DELIVERY=discard. wrk posts sms starts (bench/start.lua: a fresh number per
#          request) with -t THREADS -c DRAIN_CONNECTIONS: a warm-up, a wait until the outbox is empty, then the
#          measured run. The server's counters (/metrics on its own listener) are read right before wrk starts,
#          about every 0.5 s while it runs, and right after it ends:
#            starts/s = delta otpgate_verifications_started_total / window
#            sent/s   = delta otpgate_messages_total{sender="discard",outcome="sent"} / the same window
#          and the backlog (started - sent - other outcomes) at both ends and its maximum in between. After wrk, /metrics is polled
#          every 0.5 s until sent catches up with started (at most DRAIN_TIMEOUT s): the time that takes.
#          "keeps up" means the backlog grew over the window by at most max(128, half a second of starts): 128 is
#          the worker's batch, and a message committed just before the window closed cannot have been sent yet.
#   smtp   scripts/smtp-test-server.py (aiosmtpd, one JSON file per accepted mail) and a server with
#          OTPGATE_DELIVERY unset, OTPGATE_SMTP_URL=smtp://127.0.0.1:PORT?starttls=never and
#          OTPGATE_SMTP_FROM=otp@bench.example: email goes to SMTP (sms would go to the console; none is sent).
#          wrk posts email starts (bench/delivery-email.lua) with -t THREADS -c SMTP_CONNECTIONS: a warm-up, a wait
#          until its mail is in, then the measured run; then it waits until every started verification's mail has
#          arrived (at most DRAIN_TIMEOUT s). Each address carries the wall time its start was sent, and each mail
#          file its received_at, so it reports start -> SMTP accepted p50/p90/p99/max over every measured mail,
#          mails accepted/s in the same window as starts/s, when the last mail arrived after wrk ended, the mean
#          SMTP transaction time (otpgate_send_duration_seconds), mails against 201s, and the same backlog figures
#          and "keeps up" verdict as drain (here the Python SMTP server may be what falls behind).
#
# Knobs (environment):
#   OTPGATE_BIN          server binary (default .build/release/otpgate; built with swift build -c release if absent)
#   DURATION             measured seconds per workload (default 10; BENCH_DURATION works too)
#   WARMUP               warm-up seconds (default 3; BENCH_WARMUP works too; 0 = none)
#   DELIVERY_WORKLOADS   "drain smtp" (default), or one of them
#   THREADS              wrk -t (default 2)
#   DRAIN_CONNECTIONS    wrk -c for drain (default 64, as bench/run.sh)
#   SMTP_CONNECTIONS     wrk -c for smtp (default 4: a moderate rate, not a saturating one)
#   DRAIN_TIMEOUT        longest wait, in seconds, for the outbox to empty after each wrk run (default 30)
#   BENCH_SERVER_CPUS, BENCH_WRK_CPUS  taskset -c lists for the otpgate server and wrk (default: no pinning)
#   BENCH_TMPDIR, BENCH_RESULTS_DIR    as in bench/run.sh
#   DELIVERY_STRICT      1: exit 3 when a workload did not keep up, lost mail, or saw errors
#   OTPGATE_LOG_LEVEL (default warning), OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND (default 1000000) and
#   OTPGATE_SQLITE_SYNCHRONOUS are passed to the server.
#
# Results: bench/results/delivery-<timestamp>/ (summary.md, environment.txt, wrk output, metric samples, logs).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"

DURATION="${DURATION:-${BENCH_DURATION:-10}}"
WARMUP="${WARMUP:-${BENCH_WARMUP:-3}}"
WORKLOADS="${DELIVERY_WORKLOADS:-drain smtp}"
THREADS="${THREADS:-2}"
DRAIN_CONNECTIONS="${DRAIN_CONNECTIONS:-64}"
SMTP_CONNECTIONS="${SMTP_CONNECTIONS:-4}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-30}"
WRK_TIMEOUT=10
SERVER_CPUS="${BENCH_SERVER_CPUS:-}"
WRK_CPUS="${BENCH_WRK_CPUS:-}"
RESULTS_ROOT="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
STRICT="${DELIVERY_STRICT:-0}"
BATCH=128   # OutboxWorker.batchSize

log() { printf '[delivery %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[delivery %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; WARNINGS+=("$*"); }
die() { printf '[delivery %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
WARNINGS=()

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for knob in DURATION WARMUP THREADS DRAIN_CONNECTIONS SMTP_CONNECTIONS DRAIN_TIMEOUT; do
    is_uint "${!knob}" || die "$knob must be a whole number, not '${!knob}'"
done
[[ $DURATION -ge 1 ]] || die "DURATION must be at least 1"
[[ $THREADS -ge 1 && $DRAIN_CONNECTIONS -ge $THREADS && $SMTP_CONNECTIONS -ge $THREADS ]] \
    || die "need THREADS >= 1 and both DRAIN_CONNECTIONS and SMTP_CONNECTIONS >= THREADS"
for w in $WORKLOADS; do [[ $w == drain || $w == smtp ]] || die "DELIVERY_WORKLOADS may list only 'drain' and 'smtp', not '$w'"; done
[[ -n ${WORKLOADS// /} ]] || die "DELIVERY_WORKLOADS is empty"
[[ -r /proc/self/status ]] || die "this benchmark reads /proc: run it on Linux"

# --- state and cleanup -----------------------------------------------------------------------------------

TMP=""
PIDS=()      # every server this script started (otpgate and the SMTP server)
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
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$pid" 15; done
    if [[ -n $TMP && -d $TMP ]]; then rm -rf -- "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -----------------------------------------------------------------------------------------------

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; return; fi
    command -v sudo >/dev/null 2>&1 || die "run as root or install it yourself: $*"
    sudo "$@"
}

ensure_tools() {
    command -v python3 >/dev/null 2>&1 || die "python3 is required (metric parsing, the SMTP test server)"
    command -v curl >/dev/null 2>&1 || die "curl is required (reads /metrics)"
    if ! command -v wrk >/dev/null 2>&1; then
        log "wrk is not installed; installing it from the Debian archive"
        command -v apt-get >/dev/null 2>&1 || die "wrk is missing and apt-get is not available: install wrk yourself"
        as_root apt-get update >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2
        command -v wrk >/dev/null 2>&1 || die "wrk is still missing after apt-get install"
    fi
    if [[ " $WORKLOADS " == *" smtp "* ]] && ! python3 -c 'import aiosmtpd' 2>/dev/null; then
        log "aiosmtpd is not installed; installing it with pip"
        python3 -m pip install --quiet aiosmtpd >&2 || die "could not install aiosmtpd (python3 -m pip install aiosmtpd)"
        python3 -c 'import aiosmtpd' 2>/dev/null || die "aiosmtpd is still missing after pip install"
    fi
}

find_server() {
    local bin="${OTPGATE_BIN:-$ROOT/.build/release/otpgate}"
    if [[ -z ${OTPGATE_BIN:-} && ! -x $bin ]]; then
        command -v swift >/dev/null 2>&1 || die "$bin is missing and swift is not on PATH: set OTPGATE_BIN"
        log "building: swift build -c release --product otpgate"
        (cd "$ROOT" && swift build -c release --product otpgate) >&2 || die "the release build failed"
        bin="$(cd "$ROOT" && swift build -c release --show-bin-path)/otpgate"
    fi
    [[ -x $bin ]] || die "OTPGATE_BIN=$bin is not an executable file"
    BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
    log "server binary: $BIN"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

now() { date +%s.%N; }
# calc EXPR [VAR=VALUE ...]: floating-point arithmetic with awk.
calc() {
    local e=$1 kv args=()
    shift
    for kv in "$@"; do args+=(-v "$kv"); done
    awk ${args[@]+"${args[@]}"} "BEGIN { OFMT = \"%.6f\"; print ($e) }" </dev/null
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

# --- servers ---------------------------------------------------------------------------------------------

# start_smtp: the aiosmtpd test server on a free port, writing mail to $MAIL_DIR. Sets SMTP_PORT.
start_smtp() {
    MAIL_DIR="$TMP/mail"
    mkdir -p "$MAIL_DIR"
    local out="$TMP/smtp.stdout"
    python3 -u "$ROOT/scripts/smtp-test-server.py" --port 0 --mail-dir "$MAIL_DIR" \
        >"$out" 2>"$RUN_DIR/smtp-server.log" &
    local pid=$!
    PIDS+=("$pid")
    local deadline=$((SECONDS + 20))
    SMTP_PORT=""
    while [[ -z $SMTP_PORT ]]; do
        alive "$pid" || { tail -n 20 "$RUN_DIR/smtp-server.log" >&2; die "the SMTP test server exited during startup"; }
        [[ $SECONDS -lt $deadline ]] || die "the SMTP test server printed no READY line within 20 s"
        SMTP_PORT=$(sed -n 's/^READY \([0-9][0-9]*\)$/\1/p' "$out" | head -n 1)
        [[ -n $SMTP_PORT ]] || sleep 0.1
    done
    log "SMTP test server on 127.0.0.1:$SMTP_PORT (pid $pid), mail in $MAIL_DIR"
}

# launch_server NAME MODE: otpgate on a fresh SQLite database; MODE is "discard" (OTPGATE_DELIVERY=discard) or
# "smtp" (OTPGATE_DELIVERY unset, email to the SMTP test server). Sets SERVER_PID, SERVER_PORT, METRICS_PORT, API_KEY.
launch_server() {
    local name=$1 mode=$2
    local dir="$TMP/$name"
    mkdir -p "$dir"
    SERVER_PORT=$(free_port)
    METRICS_PORT=$(free_port)
    [[ $METRICS_PORT != "$SERVER_PORT" ]] || METRICS_PORT=$(free_port)
    local out="$dir/stdout" err="$RUN_DIR/server-$name.log"
    local delivery=()
    if [[ $mode == discard ]]; then
        delivery=(OTPGATE_DELIVERY=discard)
    else
        delivery=(OTPGATE_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT?starttls=never" OTPGATE_SMTP_FROM=otp@bench.example)
    fi
    local prefix=()
    if [[ -n $SERVER_CPUS ]]; then prefix=(taskset -c "$SERVER_CPUS"); fi
    log "starting server '$name' ($mode) on 127.0.0.1:$SERVER_PORT, metrics on 127.0.0.1:$METRICS_PORT"
    ${prefix[@]+"${prefix[@]}"} env -u OTPGATE_DATABASE_URL -u OTPGATE_MASTER_KEY -u OTPGATE_MASTER_KEY_FILE \
        -u OTPGATE_HOST -u OTPGATE_PORT -u OTPGATE_DELIVERY -u OTPGATE_SMTP_URL -u OTPGATE_SMTP_FROM \
        -u OTPGATE_SMTP_CA_FILE -u OTPGATE_SMS_PROVIDER -u OTPGATE_METRICS_HOST -u OTPGATE_BIN \
        OTPGATE_ENV=development OTPGATE_METRICS_PORT="$METRICS_PORT" \
        OTPGATE_MASTER_KEY="$(printf 'ab%.0s' {1..32})" \
        OTPGATE_LOG_LEVEL="${OTPGATE_LOG_LEVEL:-warning}" \
        OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND="${OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND:-1000000}" \
        OTPGATE_POLICY_PUMPING_GUARD="${OTPGATE_POLICY_PUMPING_GUARD:-off}" \
        "${delivery[@]}" \
        "$BIN" serve --host 127.0.0.1 --port "$SERVER_PORT" --database "sqlite:$dir/otpgate.sqlite" \
        >"$out" 2>"$err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local deadline=$((SECONDS + 120))
    API_KEY=""
    while :; do
        alive "$SERVER_PID" || { tail -n 20 "$err" >&2 || true; die "server '$name' exited during startup (log: $err)"; }
        if [[ -z $API_KEY ]]; then API_KEY=$(grep -oE 'otpg_[a-z2-7]{52}' "$out" 2>/dev/null | head -n 1 || true); fi
        if [[ -n $API_KEY ]] && curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$SERVER_PORT/readyz" \
            && curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics"; then
            break
        fi
        [[ $SECONDS -lt $deadline ]] || die "server '$name' was not ready within 120 s (log: $err)"
        sleep 0.2
    done
    log "server '$name' is ready (pid $SERVER_PID)"
}

require_alive() { alive "$1" || die "a server (pid $1) died during $2; logs in $RUN_DIR"; }

# --- metrics ---------------------------------------------------------------------------------------------

# sample SENDER: one scrape of /metrics, printed as
#   "<unix time> <started> <sent> <other outcomes> <outbox_depth> <oldest_age_s>"
# started sums otpgate_verifications_started_total over channels; sent and other are otpgate_messages_total for
# that sender with outcome="sent" and with any other outcome (retry, failed, expired). The two gauges are the
# worker's, refreshed every 5 s.
sample() {
    local sender=$1 body t try
    for try in 1 2 3; do
        t=$(now)
        if body=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" 2>/dev/null); then
            awk -v t="$t" -v sender="sender=\"$sender\"" '
                /^#/ { next }
                { name = $1; sub(/\{.*/, "", name); v = $NF + 0 }
                name == "otpgate_verifications_started_total" { st += v }
                name == "otpgate_messages_total" && index($0, sender) {
                    if (index($0, "outcome=\"sent\"")) se += v; else ot += v
                }
                name == "otpgate_outbox_depth" { d = v }
                name == "otpgate_outbox_oldest_age_seconds" { o = v }
                END { printf "%s %d %d %d %d %.3f\n", t, st, se, ot, d, o }' <<<"$body"
            return 0
        fi
        sleep 0.2
    done
    die "could not read http://127.0.0.1:$METRICS_PORT/metrics"
}
field() { awk -v i="$2" '{ print $i }' <<<"$1"; }  # field SAMPLE N (1 time, 2 started, 3 sent, 4 other, 5 depth, 6 age)

# wait_drained SENDER [mails]: polls every 0.5 s until every started verification's message has been through the
# sender (sent + other outcomes >= started) and, with "mails", until the SMTP server holds at least as many mail
# files as were sent. Gives up after DRAIN_TIMEOUT s. Sets DRAINED (1/0), DRAIN_SECS and LAST (the last sample).
wait_drained() {
    local sender=$1 mails=${2:-} began s st se ot files
    began=$(now)
    DRAINED=0
    while :; do
        s=$(sample "$sender")
        st=$(field "$s" 2); se=$(field "$s" 3); ot=$(field "$s" 4)
        files=0
        if [[ -n $mails ]]; then files=$(find "$MAIL_DIR" -maxdepth 1 -name '*.json' | wc -l); fi
        if [[ $((se + ot)) -ge $st && ( -z $mails || $files -ge $se ) ]]; then DRAINED=1; break; fi
        if [[ $(calc "t - b >= d" t="$(field "$s" 1)" b="$began" d="$DRAIN_TIMEOUT") == 1 ]]; then break; fi
        sleep 0.5
    done
    LAST=$s
    DRAIN_SECS=$(calc "t - b" t="$(field "$s" 1)" b="$began")
}

# --- wrk -------------------------------------------------------------------------------------------------

# run_measured OUT CONNECTIONS SCRIPT SENDER [VAR=VALUE ...]: samples /metrics, runs wrk for DURATION while
# sampling about every 0.5 s into OUT.samples, samples again as soon as wrk exits. Sets S0 and S1.
run_measured() {
    local out=$1 conns=$2 script=$3 sender=$4
    shift 4
    local prefix=()
    if [[ -n $WRK_CPUS ]]; then prefix=(taskset -c "$WRK_CPUS"); fi
    echo "# wrk -t$THREADS -c$conns -d${DURATION}s --timeout ${WRK_TIMEOUT}s --latency -s $(basename "$script") $* http://127.0.0.1:$SERVER_PORT/" >"$out"
    echo "# time started sent other depth oldest_age" >"$out.samples"
    S0=$(sample "$sender")
    echo "$S0" >>"$out.samples"
    ${prefix[@]+"${prefix[@]}"} env BENCH_API_KEY="$API_KEY" BENCH_THREADS="$THREADS" "$@" \
        wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" --latency \
        -s "$script" "http://127.0.0.1:$SERVER_PORT/" >>"$out" 2>&1 &
    WRK_PID=$!
    while alive "$WRK_PID"; do
        sleep 0.5
        alive "$WRK_PID" || break
        sample "$sender" >>"$out.samples"
    done
    local rc=0
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    S1=$(sample "$sender")
    echo "$S1" >>"$out.samples"
    check_wrk "$out" "$rc"
}

# run_plain OUT CONNECTIONS SECONDS SCRIPT [VAR=VALUE ...]: a warm-up run in the foreground.
run_plain() {
    local out=$1 conns=$2 secs=$3 script=$4
    shift 4
    local prefix=()
    if [[ -n $WRK_CPUS ]]; then prefix=(taskset -c "$WRK_CPUS"); fi
    local rc=0
    ${prefix[@]+"${prefix[@]}"} env BENCH_API_KEY="$API_KEY" BENCH_THREADS="$THREADS" "$@" \
        wrk -t"$THREADS" -c"$conns" -d"${secs}s" --timeout "${WRK_TIMEOUT}s" --latency \
        -s "$script" "http://127.0.0.1:$SERVER_PORT/" >"$out" 2>&1 || rc=$?
    check_wrk "$out" "$rc"
}

check_wrk() {
    if [[ $2 -ne 0 ]] || ! grep -q '^BENCH_RESULT ' "$1"; then
        tail -n 30 "$1" >&2 || true
        die "wrk failed (exit $2); output in $1"
    fi
}

result() { grep '^BENCH_RESULT ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

report_wrk_errors() { # file label
    local bad sock
    bad=$(result "$1" bad)
    sock=$(( $(result "$1" connect_errors) + $(result "$1" read_errors) + $(result "$1" write_errors) + $(result "$1" timeouts) ))
    if [[ $bad -gt 0 ]]; then warn "$2: $bad unexpected responses (first: $(sed -n 's/^BENCH_FIRST_BAD //p' "$1" | head -n 1 | cut -c1-200))"; fi
    if [[ $sock -gt 0 ]]; then warn "$2: $sock socket errors/timeouts (see $1)"; fi
    SOCK=$sock
}

# keeps_up START_COUNT BACKLOG_START BACKLOG_END START_RATE: "yes", or "NO (why)", and FAILED=1. The outbox keeps
# up when its backlog grew over the window by at most max(one batch, half a second of starts) and it emptied
# within DRAIN_TIMEOUT after wrk (DRAINED, from wait_drained).
keeps_up() {
    local st=$1 b0=$2 b1=$3 rate=$4 slack
    slack=$(calc "(b > r / 2) ? int(b) : int(r / 2)" b="$BATCH" r="$rate")
    KEEPS=yes
    if [[ $st -le 0 ]]; then KEEPS="NO (no starts)"; FAILED=1; fi
    if [[ $((b1 - b0)) -gt $slack ]]; then KEEPS="NO (backlog grew by $((b1 - b0)) > $slack)"; FAILED=1; fi
    if [[ $DRAINED != 1 ]]; then KEEPS="NO (not empty ${DRAIN_TIMEOUT}s after wrk)"; FAILED=1; fi
}

# max_backlog SAMPLES: the largest started - sent - other over the samples.
max_backlog() { awk '!/^#/ { b = $2 - $3 - $4; if (b > m) m = b } END { print m + 0 }' "$1"; }

# --- the run ---------------------------------------------------------------------------------------------

STAMP=$(date +%Y%m%d-%H%M%S)
RUN_DIR="$RESULTS_ROOT/delivery-$STAMP"
mkdir -p "$RUN_DIR"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/otpgate-delivery.XXXXXX")

ensure_tools
find_server

COMMAND="DURATION=$DURATION WARMUP=$WARMUP DELIVERY_WORKLOADS=\"$WORKLOADS\" THREADS=$THREADS DRAIN_CONNECTIONS=$DRAIN_CONNECTIONS SMTP_CONNECTIONS=$SMTP_CONNECTIONS OTPGATE_BIN=${OTPGATE_BIN:-.build/release/otpgate} bash bench/delivery.sh"
{
    echo "date:         $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:       $(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
    echo "nproc:        $(nproc)"
    echo "cpu:          $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "kernel:       $(uname -sr)"
    echo "wrk:          $(wrk -v 2>&1 | head -n 1 | sed 's/ Copyright.*//' || true)"
    echo "python:       $(python3 -c 'import sys; print(sys.version.split()[0])')$(python3 -c 'import aiosmtpd; print(", aiosmtpd", aiosmtpd.__version__)' 2>/dev/null || true)"
    echo "binary:       $BIN"
    echo "database dir: $TMP ($(stat -f -c %T "$TMP" 2>/dev/null || echo unknown)), SQLite synchronous ${OTPGATE_SQLITE_SYNCHRONOUS:-FULL (default)}"
    echo "load:         wrk -t$THREADS, drain -c$DRAIN_CONNECTIONS, smtp -c$SMTP_CONNECTIONS; warm-up ${WARMUP}s, measured ${DURATION}s"
    echo "cpu pinning:  server=${SERVER_CPUS:-none} wrk=${WRK_CPUS:-none}"
    echo "command:      $COMMAND"
} >"$RUN_DIR/environment.txt"
log "results go to $RUN_DIR"
sed 's/^/    /' "$RUN_DIR/environment.txt" >&2

DRAIN_ROW=""
SMTP_ROW=""
FAILED=0

run_drain() {
    launch_server drain discard
    local pid=$SERVER_PID
    if [[ $WARMUP -gt 0 ]]; then
        log "drain: warm-up ${WARMUP}s"
        run_plain "$RUN_DIR/drain-warmup.txt" "$DRAIN_CONNECTIONS" "$WARMUP" "$BENCH_DIR/start.lua"
        wait_drained discard
        [[ $DRAINED == 1 ]] || warn "drain: the warm-up's backlog was not gone after ${DRAIN_TIMEOUT}s"
        log "drain: warm-up backlog drained after $(fmt "$DRAIN_SECS" %.1f)s"
    fi
    log "drain: measuring ${DURATION}s"
    local out="$RUN_DIR/drain.txt"
    run_measured "$out" "$DRAIN_CONNECTIONS" "$BENCH_DIR/start.lua" discard
    require_alive "$pid" "the drain run"
    wait_drained discard
    require_alive "$pid" "the drain wait"
    stop_pid "$pid" 15
    report_wrk_errors "$out" drain

    local win st se b0 b1 bmax start_rate sent_rate ratio other
    win=$(calc "b - a" a="$(field "$S0" 1)" b="$(field "$S1" 1)")
    st=$(( $(field "$S1" 2) - $(field "$S0" 2) ))
    se=$(( $(field "$S1" 3) - $(field "$S0" 3) ))
    other=$(( $(field "$LAST" 4) - $(field "$S0" 4) ))
    b0=$(( $(field "$S0" 2) - $(field "$S0" 3) - $(field "$S0" 4) ))
    b1=$(( $(field "$S1" 2) - $(field "$S1" 3) - $(field "$S1" 4) ))
    bmax=$(max_backlog "$out.samples")
    start_rate=$(calc "s / w" s="$st" w="$win")
    sent_rate=$(calc "s / w" s="$se" w="$win")
    ratio=$(calc "(s > 0) ? e / s : 0" s="$st" e="$se")
    keeps_up "$st" "$b0" "$b1" "$start_rate"
    if [[ $other -gt 0 ]]; then warn "drain: $other delivery attempts ended other than sent"; FAILED=1; fi
    if [[ $SOCK -gt 0 || $(result "$out" bad) -gt 0 ]]; then FAILED=1; fi
    DRAIN_ROW="$(fmt "$start_rate" %.0f)|$(fmt "$sent_rate" %.0f)|$(fmt "$ratio" %.3f)|$b0 → $b1 (max $bmax)|$(fmt "$DRAIN_SECS" %.1f) s|$other|$(result "$out" bad)/$SOCK|$KEEPS"
    {
        echo "window=$(fmt "$win" %.3f)s started=$st sent=$se other=$other backlog_start=$b0 backlog_end=$b1 backlog_max=$bmax"
        echo "start_rate=$start_rate sent_rate=$sent_rate ratio=$ratio drained=$DRAINED drain_after_wrk_s=$DRAIN_SECS wrk_rps=$(result "$out" rps)"
    } >>"$out"
    log "drain: starts $(fmt "$start_rate" %.0f)/s, sent $(fmt "$sent_rate" %.0f)/s (ratio $(fmt "$ratio" %.3f)), backlog $b0 → $b1 (max $bmax), drained $(fmt "$DRAIN_SECS" %.1f)s after wrk"
}

run_smtp() {
    start_smtp
    launch_server smtp smtp
    local pid=$SERVER_PID
    if [[ $WARMUP -gt 0 ]]; then
        log "smtp: warm-up ${WARMUP}s"
        run_plain "$RUN_DIR/smtp-warmup.txt" "$SMTP_CONNECTIONS" "$WARMUP" "$BENCH_DIR/delivery-email.lua" BENCH_PHASE=w
        wait_drained smtp mails
        [[ $DRAINED == 1 ]] || warn "smtp: the warm-up's mail was not all in after ${DRAIN_TIMEOUT}s"
        log "smtp: warm-up mail in after $(fmt "$DRAIN_SECS" %.1f)s"
    fi
    log "smtp: measuring ${DURATION}s"
    local out="$RUN_DIR/smtp.txt"
    run_measured "$out" "$SMTP_CONNECTIONS" "$BENCH_DIR/delivery-email.lua" smtp BENCH_PHASE=m
    require_alive "$pid" "the smtp run"
    wait_drained smtp mails
    require_alive "$pid" "the smtp wait"
    local send_sum send_count
    read -r send_sum send_count < <(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" | awk '
        /^otpgate_send_duration_seconds_sum\{/ && /sender="smtp"/ { s += $NF }
        /^otpgate_send_duration_seconds_count\{/ && /sender="smtp"/ { c += $NF }
        END { printf "%.6f %d\n", s, c }')
    stop_pid "$pid" 15
    report_wrk_errors "$out" smtp

    local t0 t1 win st se other b0 b1 bmax
    t0=$(field "$S0" 1); t1=$(field "$S1" 1)
    win=$(calc "b - a" a="$t0" b="$t1")
    st=$(( $(field "$S1" 2) - $(field "$S0" 2) ))
    se=$(( $(field "$S1" 3) - $(field "$S0" 3) ))
    other=$(( $(field "$LAST" 4) - $(field "$S0" 4) ))
    b0=$(( $(field "$S0" 2) - $(field "$S0" 3) - $(field "$S0" 4) ))
    b1=$(( $(field "$S1" 2) - $(field "$S1" 3) - $(field "$S1" 4) ))
    bmax=$(max_backlog "$out.samples")
    local started_all
    started_all=$(( $(field "$LAST" 2) - $(field "$S0" 2) ))

    # Every mail of the measured run: latency = received_at - the send time in its address.
    python3 - "$MAIL_DIR" "$t0" "$t1" >"$out.mails" <<'PY'
import json, os, sys
mail_dir, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
lat, received, seen, dups, bad = [], [], set(), 0, 0
for name in os.listdir(mail_dir):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(mail_dir, name), encoding="utf-8") as f:
        m = json.load(f)
    for rcpt in m.get("rcpt_tos", []):
        local = rcpt.split("@", 1)[0]
        parts = local.split(".")
        if parts[0] != "m":
            continue
        if len(parts) != 5:
            bad += 1
            continue
        if local in seen:
            dups += 1
            continue
        seen.add(local)
        sent_at = int(parts[3]) + int(parts[4]) / 1e6
        lat.append(m["received_at"] - sent_at)
        received.append(m["received_at"])
lat.sort()
def pct(p):
    if not lat:
        return 0.0
    k = max(0, min(len(lat) - 1, int(-(-p * len(lat) // 100)) - 1))  # nearest rank
    return lat[k]
in_window = sum(1 for r in received if t0 <= r <= t1)
last = max(received) if received else t1
print(f"mails={len(lat)} in_window={in_window} duplicates={dups} unparsed={bad} "
      f"p50_ms={pct(50)*1e3:.2f} p90_ms={pct(90)*1e3:.2f} p99_ms={pct(99)*1e3:.2f} "
      f"max_ms={(lat[-1] if lat else 0)*1e3:.2f} min_ms={(lat[0] if lat else 0)*1e3:.2f} "
      f"last_after_wrk_s={last - t1:.3f}")
PY
    local mres
    mres=$(cat "$out.mails")
    mval() { tr ' ' '\n' <<<"$mres" | sed -n "s/^$1=//p"; }
    local mails in_window dups created start_rate mail_rate ratio send_ms
    mails=$(mval mails); in_window=$(mval in_window); dups=$(mval duplicates)
    created=$(result "$out" created)
    start_rate=$(calc "s / w" s="$st" w="$win")
    mail_rate=$(calc "m / w" m="$in_window" w="$win")
    ratio=$(calc "(s > 0) ? e / s : 0" s="$st" e="$se")
    send_ms=$(calc "(c > 0) ? 1000 * s / c : 0" s="$send_sum" c="$send_count")
    keeps_up "$st" "$b0" "$b1" "$start_rate"
    if [[ $mails -lt $created ]]; then warn "smtp: only $mails measured mails for $created acknowledged starts"; FAILED=1; fi
    if [[ $mails -lt $started_all ]]; then
        warn "smtp: $mails measured mails arrived for $started_all verifications started (incl. any wrk dropped in flight)"
        FAILED=1
    fi
    if [[ $dups -gt 0 ]]; then warn "smtp: $dups duplicate mails (at-least-once redelivery)"; fi
    if [[ $other -gt 0 ]]; then warn "smtp: $other delivery attempts ended other than sent (see $RUN_DIR/server-smtp.log)"; FAILED=1; fi
    if [[ $SOCK -gt 0 || $(result "$out" bad) -gt 0 ]]; then FAILED=1; fi
    SMTP_ROW="$(fmt "$start_rate" %.0f)|$(fmt "$mail_rate" %.0f)|$(mval p50_ms) ms|$(mval p90_ms) ms|$(mval p99_ms) ms|$(mval max_ms) ms|$(fmt "$(mval last_after_wrk_s)" %.2f) s|$(fmt "$send_ms" %.2f) ms|$mails/$created|$(result "$out" bad)/$SOCK|$(fmt "$ratio" %.3f), $b0 → $b1 (max $bmax)|$KEEPS"
    {
        echo "window=$(fmt "$win" %.3f)s started=$st sent=$se other=$other backlog_start=$b0 backlog_end=$b1 backlog_max=$bmax"
        echo "start_rate=$start_rate mail_rate_in_window=$mail_rate ratio=$ratio drained=$DRAINED drain_after_wrk_s=$DRAIN_SECS wrk_rps=$(result "$out" rps)"
        echo "smtp_send_mean_ms=$send_ms (otpgate_send_duration_seconds, whole server lifetime)"
        echo "$mres"
    } >>"$out"
    log "smtp: starts $(fmt "$start_rate" %.0f)/s, mails $(fmt "$mail_rate" %.0f)/s; start → accepted p50 $(mval p50_ms) ms, p99 $(mval p99_ms) ms; $mails mails for $created acknowledged starts"
}

for w in $WORKLOADS; do
    case $w in
        drain) run_drain ;;
        smtp) run_smtp ;;
    esac
done

# --- summary ---------------------------------------------------------------------------------------------

{
    echo "# OTPGate delivery benchmark $STAMP"
    echo
    echo '```sh'
    echo "$COMMAND"
    echo '```'
    echo
    sed 's/^/    /' "$RUN_DIR/environment.txt"
    if [[ -n $DRAIN_ROW ]]; then
        echo
        echo "Outbox drain: \`POST /v1/verifications\` (sms), OTPGATE_DELIVERY=discard, wrk -t$THREADS -c$DRAIN_CONNECTIONS, ${DURATION}s; rates from the server's counters over the same window."
        echo
        echo "| starts/s | sent/s (same window) | sent/started | backlog start → end (max) | empty after wrk | failed attempts | non-2xx/sock err | keeps up |"
        echo "|---:|---:|---:|---|---:|---:|---:|---|"
        IFS='|' read -r a b c d e f g h <<<"$DRAIN_ROW"
        echo "| $a | $b | $c | $d | $e | $f | $g | $h |"
    fi
    if [[ -n $SMTP_ROW ]]; then
        echo
        echo "Start → SMTP accepted: email starts to aiosmtpd (scripts/smtp-test-server.py) over smtp://127.0.0.1 (no TLS), wrk -t$THREADS -c$SMTP_CONNECTIONS, ${DURATION}s; latency from the request's send time to the server's received_at, over every measured mail."
        echo
        echo "| starts/s | mails accepted/s (same window) | p50 | p90 | p99 | max | last mail after wrk | SMTP send (mean) | mails/201s | non-2xx/sock err | sent/started, backlog | keeps up |"
        echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
        IFS='|' read -r a b c d e f g h i j k l <<<"$SMTP_ROW"
        echo "| $a | $b | $c | $d | $e | $f | $g | $h | $i | $j | $k | $l |"
    fi
    if [[ ${#WARNINGS[@]} -gt 0 ]]; then
        echo
        echo "Warnings:"
        for w in "${WARNINGS[@]}"; do echo "- $w"; done
    fi
} >"$RUN_DIR/summary.md"

echo
cat "$RUN_DIR/summary.md"
echo
echo "wrk output, metric samples and logs: $RUN_DIR"

if [[ $STRICT == 1 && $FAILED == 1 ]]; then exit 3; fi
