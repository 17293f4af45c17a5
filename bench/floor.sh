#!/usr/bin/env bash
# The SQLite floor of a start (bench/sqlite-floor.c: the rows one start commits, in plain C, same schema and
# settings), and the bare route's cost in the same session: how much of issue 17's budget for a start the database
# work alone takes. See bench/README.md ("The SQLite floor").
# Usage: bash bench/floor.sh        (OTPGATE_BIN, FLOOR_STARTS, FLOOR_BATCHES, BENCH_DURATION as in run.sh)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
STARTS="${FLOOR_STARTS:-60000}"
BATCHES="${FLOOR_BATCHES:-1 8 18 64}"
DURATION="${BENCH_DURATION:-10}"

log() { printf '[floor %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[floor %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }
[[ $STARTS =~ ^[0-9]+$ && $STARTS -ge 1000 ]] || die "FLOOR_STARTS must be a whole number of at least 1000"
[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 4 ]] || die "BENCH_DURATION must be at least 4 (seconds)"

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/otpgate-floor.XXXXXX")
trap 'rm -rf -- "$TMP"' EXIT

if [[ ! -e /usr/include/sqlite3.h ]]; then
    log "installing libsqlite3-dev (the floor links the libsqlite3 the server uses)"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y libsqlite3-dev >&2; else sudo apt-get install -y libsqlite3-dev >&2; fi
fi
cc -O2 -Wall -o "$TMP/sqlite-floor" "$BENCH_DIR/sqlite-floor.c" -lsqlite3

if [[ -n ${OTPGATE_BIN:-} ]]; then
    BIN="$OTPGATE_BIN"
else
    log "building otpgate (release); set OTPGATE_BIN to skip"
    (cd "$ROOT" && swift build -c release --product otpgate >&2)
    BIN="$ROOT/.build/release/otpgate"
    export OTPGATE_BIN="$BIN"
fi
# The schema is the server's own: a database its migrations made.
OTPGATE_MASTER_KEY="$(printf 'ab%.0s' {1..32})" "$BIN" migrate --database "sqlite:$TMP/base.sqlite" >/dev/null

declare -A FLOOR
for batch in $BATCHES; do
    rm -f "$TMP"/floor.sqlite*
    cp "$TMP/base.sqlite" "$TMP/floor.sqlite"
    line=$("$TMP/sqlite-floor" "$TMP/floor.sqlite" "$STARTS" "$batch")
    FLOOR[$batch]=$(sed -n 's/.*cpu_per_start_us=\([0-9.]*\).*/\1/p' <<<"$line")
    log "$line"
done
# The approved check's floor at the same batch, and the ES256 signature each approved check makes (OpenSSL's figure
# for the same curve on this machine: the token's signing, which no store can save).
rm -f "$TMP"/floor.sqlite*
cp "$TMP/base.sqlite" "$TMP/floor.sqlite"
line=$("$TMP/sqlite-floor" "$TMP/floor.sqlite" "$STARTS" 18 check)
CHECK_FLOOR=$(sed -n 's/.*cpu_per_check_us=\([0-9.]*\).*/\1/p' <<<"$line")
log "$line"
SIGNS=$(openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/nistp256/ { print $(NF-1) }')
log "ES256 signatures per second (openssl speed ecdsap256): ${SIGNS:-unknown}"

# The bare route, with the machine's and wrk's CPU sampled over the middle of its measured run.
log "bare route: bench/run.sh with BENCH_WORKLOADS=bare"
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
ticks_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
BENCH_WORKLOADS=bare BENCH_RESULTS_DIR="$TMP/results" BENCH_DURATION="$DURATION" bash "$BENCH_DIR/run.sh" >"$TMP/run.out" 2>&1 &
RUN=$!
for _ in $(seq 1 1200); do
    compgen -G "$TMP/results/*/bare.txt" >/dev/null && break
    kill -0 "$RUN" 2>/dev/null || break
    sleep 0.1
done
sleep 1
WRK=$(pgrep -n -x wrk || true)
[[ -n $WRK ]] || { cat "$TMP/run.out" >&2; die "wrk is not running: the bare run failed"; }
WINDOW=$((DURATION - 2))
m0=$(machine_busy); w0=$(ticks_of "$WRK")
sleep "$WINDOW"
m1=$(machine_busy); w1=$(ticks_of "$WRK")
wait "$RUN" || { cat "$TMP/run.out" >&2; die "bench/run.sh failed"; }
row=$(awk -F'\t' '$1 ~ /^bare/ { print $2, $9 }' "$TMP"/results/*/summary.tsv)
read -r rps server <<<"$row"
[[ -n ${rps:-} && -n ${server:-} ]] || die "no bare row in summary.tsv"

python3 - "$rps" "$server" "$m0" "$m1" "$w0" "$w1" "$WINDOW" "$(getconf CLK_TCK)" "$(nproc)" "${FLOOR[18]:-}" \
    "${CHECK_FLOOR:-}" "${SIGNS:-}" <<'PY'
import sys
rps, server, m0, m1, w0, w1, window, hz, cores, floor18, check_floor, signs = sys.argv[1:]
rps, server, window, hz, cores = float(rps), float(server), float(window), float(hz), int(cores)
machine = (int(m1) - int(m0)) * 1e6 / hz / (rps * window)
wrk = (int(w1) - int(w0)) * 1e6 / hz / (rps * window)
busy = (int(m1) - int(m0)) / hz / window / cores
print(f"bare route: {rps:,.0f} requests/s; per request: server {server:.0f} µs, wrk {wrk:.1f} µs, "
      f"whole machine {machine:.1f} µs; the machine {busy:.0%} busy")
# Both workloads are CPU-bound on a shared machine, so requests/s = cores / (CPU per request, server + wrk + rest).
# A start at 0.5 x the bare route's requests/s may cost twice the bare request's whole-machine CPU; its own wrk and
# other share is the bare request's, so the start's server may spend: 2 * machine - (machine - server).
budget = 2 * machine - (machine - server)
print(f"budget for a start's server CPU at 0.5 x bare: {budget:.0f} µs, of which the bare route's own work (HTTP, "
      f"middleware, body parsing) is {server:.0f} µs")
if floor18:
    left = budget - server - float(floor18)
    print(f"SQLite floor at the writer's batch of 18: {float(floor18):.1f} µs; left for everything else a start does "
          f"(authentication, engine, crypto, response, delivery, audit chain, the store's own code): {left:.0f} µs")
# The approved check at 0.33 x: the same reasoning with three bare requests' machine CPU.
if check_floor:
    budget = machine / 0.33 - (machine - server)
    sign = 1e6 / float(signs) if signs else 0.0
    left = budget - server - float(check_floor) - sign
    print(f"budget for an approved check's server CPU at 0.33 x bare: {budget:.0f} µs; the SQLite floor of a check at "
          f"a batch of 18: {float(check_floor):.1f} µs; its ES256 signature: {sign:.1f} µs; left for everything else "
          f"(authentication, engine, the token's claims and JSON, response, audit chain, the store's own code): {left:.0f} µs")
PY
