#!/usr/bin/env bash
# Two OTPGate instances on one PostgreSQL behind nginx, configured with deploy/nginx/otpgate.conf exactly as
# shipped (only its ports and log path are rewritten), driven with wrk through nginx's port.
#
# It checks what the deployment promises and exits non-zero if any fails:
#   - nginx accepts the config (nginx -t) and /readyz answers through it;
#   - both instances serve traffic (nginx's access log names both upstreams);
#   - every start acknowledged through nginx is stored (rows in PostgreSQL >= 2xx answers), none answered non-2xx;
#   - both instances publish the same JWKS; /metrics is refused on the public port.
# and prints the throughput and latency seen through nginx.
#
# Usage: bash bench/nginx.sh            (release build, 10 s of load)
#   NGINX_BENCH_DURATION=3 OTPGATE_BIN=.build/debug/otpgate bash bench/nginx.sh   (the smoke run scripts/test.sh does)
# Installs nginx (nginx-light) and wrk from the Debian archive when missing. Needs PostgreSQL's initdb/pg_ctl.
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
    env -u OTPGATE_DATABASE_URL OTPGATE_ENV=development OTPGATE_DELIVERY=discard OTPGATE_LOG_LEVEL=warning \
        OTPGATE_MASTER_KEY="$MASTER_KEY" OTPGATE_POLICY_REQUESTS_PER_KEY_PER_SECOND=1000000 \
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

metrics=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PUBLIC/metrics")
[[ $metrics == 403 ]] || die "/metrics answered $metrics on the public port, expected 403"
jwks_a=$(curl -fs "http://127.0.0.1:$PORT_A/.well-known/jwks.json")
jwks_b=$(curl -fs "http://127.0.0.1:$PORT_B/.well-known/jwks.json")
[[ -n $jwks_a && $jwks_a == "$jwks_b" ]] || die "the instances publish different JWKS"

log "wrk -t2 -c$CONNECTIONS -d${DURATION}s POST /v1/verifications through nginx"
BENCH_API_KEY="$API_KEY" BENCH_THREADS=2 wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s "$ROOT/bench/start.lua" "http://127.0.0.1:$PUBLIC" >"$TMP/wrk.txt"
result() { grep '^BENCH_RESULT ' "$TMP/wrk.txt" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }
requests=$(result requests); bad=$(result bad); rps=$(result rps)
socket_errors=$(grep -oE 'Socket errors: .*' "$TMP/wrk.txt" || true)
[[ -n $requests && $requests -gt 0 ]] || die "wrk completed no requests"

stored=$("$PSQL" "$DATABASE" -tAc "SELECT count(*) FROM verifications")
per_upstream=$(grep -oE 'upstream=127\.0\.0\.1:[0-9]+' "$TMP/access.log" | sort | uniq -c | sed 's/^ *//')
log "served per instance: $(echo "$per_upstream" | tr '\n' ' ')"
grep -q "upstream=127.0.0.1:$PORT_A" "$TMP/access.log" || die "instance a served nothing"
grep -q "upstream=127.0.0.1:$PORT_B" "$TMP/access.log" || die "instance b served nothing"
[[ $bad -eq 0 ]] || die "$bad answers were not 2xx"
acknowledged=$((requests - bad))
[[ $stored -ge $acknowledged ]] || die "$acknowledged starts acknowledged but only $stored stored"

printf '\n| through nginx, 2 instances | requests/s | p50 | p99 | non-2xx | stored / acknowledged |\n'
printf '| --- | ---: | ---: | ---: | ---: | --- |\n'
awk -v rps="$rps" -v p50="$(result p50_us)" -v p99="$(result p99_us)" -v bad="$bad" -v s="$stored" -v a="$acknowledged" -v c="$CONNECTIONS" \
    'BEGIN { printf "| start, wrk -t2 -c%d | %.0f | %.2f ms | %.2f ms | %d | %d / %d |\n", c, rps, p50/1000, p99/1000, bad, s, a }'
[[ -z $socket_errors ]] || echo "wrk: $socket_errors"
log "ok"
