#!/usr/bin/env bash
# Two OTPGate instances on one PostgreSQL behind nginx, configured with deploy/nginx/otpgate.conf exactly as
# shipped (only its ports and log path are rewritten), driven with wrk through nginx's port.
#
# It checks what the deployment promises and exits non-zero if any fails:
#   - nginx accepts the config (nginx -t) and /readyz answers through it;
#   - both instances serve traffic (nginx's access log names both upstreams);
#   - wrk saw no socket errors or timeouts (connect, read, write, timeout all 0) and every answer was 2xx;
#   - every start acknowledged through nginx is stored, compared by id: start.lua records the "id" of every 2xx
#     answer (BENCH_ID_FILE; an answer without one fails the run) and the script compares that set with
#     `SELECT id FROM verifications` (see "Stored versus acknowledged" below);
#   - both instances publish the same JWKS; no spelling of /metrics is served on the public port;
#   - Eko's `developer_key` header (an underscore in its name) reaches the instances through nginx;
# and prints the throughput and latency seen through nginx.
#
# Usage: bash bench/nginx.sh            (release build, 10 s of load)
#   NGINX_BENCH_DURATION=3 OTPGATE_BIN=.build/debug/otpgate bash bench/nginx.sh   (the smoke run scripts/test.sh does)
# Installs nginx (nginx-light) and wrk from the Debian archive when missing. Needs PostgreSQL's initdb/pg_ctl.
#
# Stored versus acknowledged. Only this run writes to the fresh database, so stored ids and acknowledged ids
# should match, with one allowance. The strict check: acknowledged ⊆ stored (an acknowledged start that is not
# in the database fails the run). The other way, stored − acknowledged may hold starts whose answer never reached
# the script: when wrk's -d runs out it stops each thread's event loop and drops the request each connection may
# have in flight, without counting it as a request or as an error, and the instances may still store it. wrk
# sends one request at a time per connection (no pipelining with a Lua request()), so that is at most one start
# per connection: stored − acknowledged must be <= NGINX_BENCH_CONNECTIONS. Any other cause (a socket error,
# a non-2xx answer) fails the run on its own. Both counts are printed. nginx never retries a POST it has sent
# (no `non_idempotent` in the config), so a start cannot be stored twice.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${NGINX_BENCH_DURATION:-10}"
CONNECTIONS="${NGINX_BENCH_CONNECTIONS:-64}"

log() { printf '[nginx-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[nginx-bench %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

TMP=$(mktemp -d /tmp/otpgate-nginx.XXXXXX)
chmod 755 "$TMP"
PIDS=()
PG_CLUSTER_DIR=""
cleanup() {
    local rc=$?
    trap - EXIT
    [[ -f $TMP/nginx.pid ]] && kill -QUIT "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in ${PIDS[@]+"${PIDS[@]}"}; do wait "$pid" 2>/dev/null || true; done
    [[ -n $PG_CLUSTER_DIR ]] && bash "$ROOT/scripts/postgres-cluster.sh" remove "$PG_CLUSTER_DIR" >/dev/null 2>&1 || true
    if [[ $rc -ne 0 ]]; then
        for f in "$TMP"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
    fi
    rm -rf -- "$TMP"
    exit "$rc"
}
trap cleanup EXIT

install_missing() { # command package
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 from the Debian archive"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq >&2
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
    command -v "$1" >/dev/null 2>&1 || die "$1 is still missing after installing $2"
}
PATH="$PATH:/usr/sbin"
install_missing nginx nginx-light
install_missing wrk wrk

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

BIN="${OTPGATE_BIN:-}"
if [[ -z $BIN ]]; then
    log "building: swift build -c release --product otpgate"
    (cd "$ROOT" && swift build -c release --product otpgate) >&2
    BIN="$(cd "$ROOT" && swift build -c release --show-bin-path)/otpgate"
fi
[[ -x $BIN ]] || die "no otpgate binary at $BIN"

started=$(bash "$ROOT/scripts/postgres-cluster.sh" start)
PG_CLUSTER_DIR=${started%% *}
DATABASE=${started#* }
PSQL=$(ls /usr/lib/postgresql/*/bin/psql | head -n 1)
MASTER_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# launch NAME PORT: one instance; the first to start creates the default tenant and prints its key.
launch() {
    env -u OTPGATE_DATABASE_URL OTPGATE_ENV=development OTPGATE_DELIVERY=discard OTPGATE_LOG_LEVEL=warning OTPGATE_METRICS_PORT=0 \
        OTPGATE_MASTER_KEY="$MASTER_KEY" OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND=1000000 OTPGATE_POLICY_PUMPING_GUARD=off \
        "$BIN" serve --host 127.0.0.1 --port "$2" --database "$DATABASE" >"$TMP/$1.out" 2>"$TMP/$1.log" &
    PIDS+=($!)
    for _ in $(seq 600); do
        curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$2/readyz" && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || die "instance $1 exited during startup"
        sleep 0.2
    done
    die "instance $1 was not ready within 120 s"
}
PORT_A=$(free_port); launch a "$PORT_A"
PORT_B=$(free_port); launch b "$PORT_B"
API_KEY=$(grep -ohE 'otpg_[a-z2-7]{52}' "$TMP/a.out" "$TMP/b.out" | head -n 1)
[[ -n $API_KEY ]] || die "neither instance printed the bootstrap API key"
log "instances on :$PORT_A and :$PORT_B, database $DATABASE"

# The shipped site config, with its example ports and log path replaced; everything else as shipped.
PUBLIC=$(free_port)
sed -e "s/127\.0\.0\.1:8081/127.0.0.1:$PORT_A/" -e "s/127\.0\.0\.1:8082/127.0.0.1:$PORT_B/" \
    -e "s/listen 8080;/listen 127.0.0.1:$PUBLIC;/" -e "s|/var/log/nginx/otpgate.access.log|$TMP/access.log|" \
    "$ROOT/deploy/nginx/otpgate.conf" >"$TMP/otpgate.conf"
grep -q "127.0.0.1:$PORT_A" "$TMP/otpgate.conf" && grep -q "127.0.0.1:$PORT_B" "$TMP/otpgate.conf" \
    && grep -q "listen 127.0.0.1:$PUBLIC;" "$TMP/otpgate.conf" || die "deploy/nginx/otpgate.conf no longer has the expected ports"
# The main file a Debian install provides around conf.d/, minus what needs root.
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $TMP/client_body;
    proxy_temp_path $TMP/proxy;
    fastcgi_temp_path $TMP/fastcgi;
    uwsgi_temp_path $TMP/uwsgi;
    scgi_temp_path $TMP/scgi;
    include $TMP/otpgate.conf;
}
EOF
nginx -t -p "$TMP" -c "$TMP/nginx.conf" 2>"$TMP/nginx-t.log" || { cat "$TMP/nginx-t.log" >&2; die "nginx -t refused the config"; }
nginx -p "$TMP" -c "$TMP/nginx.conf"
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$PUBLIC/readyz" && break; sleep 0.1; done
curl -fs -o /dev/null "http://127.0.0.1:$PUBLIC/readyz" || die "/readyz does not answer through nginx"
log "nginx on :$PUBLIC in front of both"

# Metrics live on each instance's own listener: no spelling of /metrics answers 200, neither through nginx nor
# on an instance's public port.
for spelling in /metrics /metrics/ //metrics /METRICS '/metrics?x=1' /./metrics; do
    for port in "$PUBLIC" "$PORT_A"; do
        code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$spelling")
        [[ $code == 403 || $code == 404 ]] || die "$spelling answered $code on port $port, expected 403 or 404"
    done
done
jwks_a=$(curl -fs "http://127.0.0.1:$PORT_A/.well-known/jwks.json")
jwks_b=$(curl -fs "http://127.0.0.1:$PORT_B/.well-known/jwks.json")
[[ -n $jwks_a && $jwks_a == "$jwks_b" ]] || die "the instances publish different JWKS"
# Eko's developer_key has an underscore, which nginx drops unless the config allows it (underscores_in_headers on):
# through nginx an unknown key must be refused as invalid (Eko status 2483), not as missing (2487).
eko=$(curl -s -X POST "http://127.0.0.1:$PUBLIC/ekoapi/v3/tools/kyc/mobile/otp" -H 'developer_key: 0123456789abcdef0123456789abcdef' \
    -H 'secret-key: AAAA' -H "secret-key-timestamp: $(date +%s%3N)" -H 'content-type: application/json' -d '{}')
[[ $eko == *'"status":2483'* ]] || die "Eko's developer_key header did not reach the instances through nginx (answer: $eko)"

log "wrk -t2 -c$CONNECTIONS -d${DURATION}s POST /v1/verifications through nginx"
# wrk counts a "timeout" only for an answer that arrived later than --timeout (it never abandons a request).
wrk_rc=0
BENCH_API_KEY="$API_KEY" BENCH_THREADS=2 BENCH_ID_FILE="$TMP/acknowledged-ids" \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s "$ROOT/bench/start.lua" "http://127.0.0.1:$PUBLIC" >"$TMP/wrk.txt" 2>"$TMP/wrk.log" || wrk_rc=$?
[[ $wrk_rc -eq 0 ]] || { cat "$TMP/wrk.txt" >&2; die "wrk failed (exit $wrk_rc)"; }
grep -q '^BENCH_RESULT ' "$TMP/wrk.txt" || { cat "$TMP/wrk.txt" >&2; die "wrk printed no BENCH_RESULT line"; }
result() { grep "^$1 " "$TMP/wrk.txt" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }
number() { # LINE KEY: a whole number from that line, or die
    local v
    v=$(result "$1" "$2")
    [[ $v =~ ^[0-9]+$ ]] || die "wrk's $1 line has no whole number $2 (got '$v')"
    echo "$v"
}
requests=$(number BENCH_RESULT requests); bad=$(number BENCH_RESULT bad); rps=$(result BENCH_RESULT rps)
connect_errors=$(number BENCH_RESULT connect_errors); read_errors=$(number BENCH_RESULT read_errors)
write_errors=$(number BENCH_RESULT write_errors); timeouts=$(number BENCH_RESULT timeouts)
socket_errors=$(grep -oE 'Socket errors: .*' "$TMP/wrk.txt" || true)
if [[ $((connect_errors + read_errors + write_errors + timeouts)) -ne 0 || -n $socket_errors ]]; then
    die "wrk reported socket errors or timeouts: connect $connect_errors, read $read_errors, write $write_errors," \
        "timeout $timeouts${socket_errors:+ (wrk: $socket_errors)}"
fi
[[ $requests -gt 0 ]] || die "wrk completed no requests"
if [[ $bad -ne 0 ]]; then
    die "$bad of $requests answers were not 2xx (first: $(sed -n 's/^BENCH_FIRST_BAD //p' "$TMP/wrk.txt" | head -n 1 | cut -c1-300))"
fi

per_upstream=$(grep -oE 'upstream=127\.0\.0\.1:[0-9]+' "$TMP/access.log" | sort | uniq -c | sed 's/^ *//')
log "served per instance: $(echo "$per_upstream" | tr '\n' ' ')"
grep -q "upstream=127.0.0.1:$PORT_A" "$TMP/access.log" || die "instance a served nothing"
grep -q "upstream=127.0.0.1:$PORT_B" "$TMP/access.log" || die "instance b served nothing"

# Acknowledged ids (every 2xx answer's "id"), as start.lua recorded them.
if grep -q '^BENCH_IDS_ERROR ' "$TMP/wrk.txt"; then die "start.lua: $(sed -n 's/^BENCH_IDS_ERROR //p' "$TMP/wrk.txt")"; fi
grep -q '^BENCH_IDS ' "$TMP/wrk.txt" || die "wrk printed no BENCH_IDS line (start.lua did not record ids)"
recorded=$(number BENCH_IDS recorded); no_id=$(number BENCH_IDS no_id)
if [[ $no_id -ne 0 ]]; then
    die "$no_id 2xx answers had no parseable \"id\":\"vrf_...\" (first: $(sed -n 's/^BENCH_FIRST_NO_ID //p' "$TMP/wrk.txt" | head -n 1 | cut -c1-300))"
fi
acknowledged=$((requests - bad))
[[ $recorded -eq $acknowledged ]] || die "start.lua recorded $recorded ids but wrk counted $acknowledged 2xx answers"
LC_ALL=C sort "$TMP/acknowledged-ids" >"$TMP/acknowledged.sorted"
[[ $(wc -l <"$TMP/acknowledged.sorted") -eq $recorded ]] || die "the id file does not hold the $recorded recorded ids"
duplicates=$(LC_ALL=C uniq -d "$TMP/acknowledged.sorted" | wc -l)
[[ $duplicates -eq 0 ]] || die "$duplicates ids were acknowledged more than once (first: $(LC_ALL=C uniq -d "$TMP/acknowledged.sorted" | head -n 1))"

# Stored ids. Starts wrk abandoned at its -d end may still be committing: wait until the count settles (this
# only makes the printed numbers final; an acknowledged start was committed before it was answered).
count_stored() { "$PSQL" "$DATABASE" -tAc "SELECT count(*) FROM verifications"; }
previous=$(count_stored)
for _ in $(seq 20); do
    sleep 0.5
    current=$(count_stored)
    [[ $current == "$previous" ]] && break
    previous=$current
done
"$PSQL" "$DATABASE" -tAc "SELECT id FROM verifications" | LC_ALL=C sort >"$TMP/stored.sorted"
stored=$(wc -l <"$TMP/stored.sorted")
LC_ALL=C comm -23 "$TMP/acknowledged.sorted" "$TMP/stored.sorted" >"$TMP/acknowledged-not-stored"
LC_ALL=C comm -13 "$TMP/acknowledged.sorted" "$TMP/stored.sorted" >"$TMP/stored-not-acknowledged"
lost=$(wc -l <"$TMP/acknowledged-not-stored")
unanswered=$(wc -l <"$TMP/stored-not-acknowledged")
log "acknowledged $acknowledged, stored $stored: acknowledged but not stored $lost (must be 0)," \
    "stored but not acknowledged $unanswered (at most $CONNECTIONS: in flight when wrk stopped)"
problems=""
[[ $lost -eq 0 ]] \
    || problems+="$lost acknowledged starts are not stored (first: $(head -n 1 "$TMP/acknowledged-not-stored")); "
[[ $unanswered -le $CONNECTIONS ]] || problems+="$unanswered stored starts were never acknowledged, more than the\
 $CONNECTIONS that can be in flight when wrk stops (first: $(head -n 1 "$TMP/stored-not-acknowledged")); "
[[ -z $problems ]] || die "${problems%; }"

printf '\n| through nginx, 2 instances | requests/s | p50 | p99 | non-2xx | stored / acknowledged (by id) |\n'
printf '| --- | ---: | ---: | ---: | ---: | --- |\n'
awk -v rps="$rps" -v p50="$(result BENCH_RESULT p50_us)" -v p99="$(result BENCH_RESULT p99_us)" -v bad="$bad" \
    -v s="$stored" -v a="$acknowledged" -v u="$unanswered" -v c="$CONNECTIONS" \
    'BEGIN { printf "| start, wrk -t2 -c%d | %.0f | %.2f ms | %.2f ms | %d | %d / %d (all acknowledged stored; %d unanswered) |\n", c, rps, p50/1000, p99/1000, bad, s, a, u }'
log "ok"
