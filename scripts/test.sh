#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, builds, and runs every test.
# Usage: bash scripts/test.sh [extra `swift test` arguments, e.g. --filter LimitsTests]
set -euo pipefail
cd "$(dirname "$0")/.."

# The OpenAPI document the server serves (as /openapi.yaml and /openapi.json); validated before the Swift tests.
OPENAPI_YAML=Sources/OTPGateNativeAPI/openapi.yaml

need_packages=()
# GRDB links the system SQLite.
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need_packages+=(libsqlite3-dev)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "installing: ${need_packages[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}"
fi

# The OpenAPI document must be a valid OpenAPI 3.1 document (openapi-spec-validator, from PyPI; installed once).
python3 -c 'import openapi_spec_validator' >/dev/null 2>&1 || {
  echo "installing: openapi-spec-validator (PyPI)"
  python3 -m pip install --quiet openapi-spec-validator
}
python3 -m openapi_spec_validator --schema 3.1 "$OPENAPI_YAML"

# A real SMTP server for the delivery tests (aiosmtpd, from PyPI; started per test by scripts/smtp-test-server.py), and
# openssl for their test certificates (scripts/make-test-cert.sh).
python3 -c 'import aiosmtpd' >/dev/null 2>&1 || {
  echo "installing: aiosmtpd (PyPI)"
  python3 -m pip install --quiet aiosmtpd
}
command -v openssl >/dev/null || { echo "openssl is needed for the SMTP tests' certificates" >&2; exit 1; }

# Formatting: the code as `swift format` (from the toolchain) writes it with the checked-in .swift-format.
# Fix a failure with: swift format -i -r --parallel Sources Tests Package.swift
swift format lint -r --strict --parallel Sources Tests Package.swift

# A throwaway PostgreSQL on loopback: the store conformance tests and the multi-instance tests run on it too.
# shellcheck source=scripts/postgres-cluster.sh
source scripts/postgres-cluster.sh
pg_cluster_start
# The "both backends" suites must really run on PostgreSQL: refuse to go on without it.
unset OTPGATE_TEST_SQLITE_ONLY
if [ -z "${OTPGATE_TEST_POSTGRES_URL:-}" ] || ! "$PG_BIN/psql" "$OTPGATE_TEST_POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null; then
  echo "the test PostgreSQL is not reachable (OTPGATE_TEST_POSTGRES_URL='${OTPGATE_TEST_POSTGRES_URL:-}'): refusing to run the suites on SQLite alone" >&2
  exit 1
fi

# Build everything first (the process tests run the real `otpgate` binary), then test without rebuilding.
swift build --build-tests
# At most 16 tests at a time. Unbounded, Swift Testing started every test at once: the test process held about 190
# SQLite stores, 970 threads and 2,300 file descriptors in its first seconds, and Foundation's `Process.run()` (the
# tests start `otpgate`, aiosmtpd and openssl with it) reads 256 bytes past its /proc/self/fd buffer once more than
# about 1,300 descriptors are open (AddressSanitizer: heap-buffer-overflow in `findMaximumOpenFromProcSelfFD`): a
# SIGSEGV in CI. With 16 the test process stays near 500 descriptors and 50 threads, and the run takes as long.
# A crash's backtrace shows the crashed thread only, so its frames end the log instead of hundreds of idle threads.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,threads=crashed,images=mentioned}"
# The option is Swift 6.3's; an older `swift test` refuses it ("Unknown option"), and then runs unbounded.
width=(--experimental-maximum-parallelization-width 16)
swift test --skip-build "${width[@]}" --filter '^NoTestIsNamedThis$' >/dev/null 2>&1 || {
  echo "this swift test has no --experimental-maximum-parallelization-width: the tests run unbounded" >&2
  width=()
}
swift test --skip-build "${width[@]}" "$@"

# deploy/nginx/otpgate.conf in front of two instances on one PostgreSQL (installs nginx-light and wrk if missing).
# Skipped when only some tests were asked for.
if [ $# -eq 0 ]; then
  NGINX_BENCH_DURATION=3 NGINX_BENCH_CONNECTIONS=16 OTPGATE_BIN="$(swift build --show-bin-path)/otpgate" bash bench/nginx.sh
fi

# Schemathesis against the served OpenAPI document: at least 5,000 generated requests over every operation, no 5xx,
# no answer that breaks the document (installs schemathesis from PyPI if missing). Skipped like the nginx run.
if [ $# -eq 0 ]; then
  OTPGATE_BIN="$(swift build --show-bin-path)/otpgate" bash scripts/fuzz-api.sh
fi
