#!/usr/bin/env bash
# The whole suite under AddressSanitizer or ThreadSanitizer, on both backends, with the `otpgate` child processes
# built the same way. Not part of CI: each sanitizer builds every dependency again (about 9 minutes on 2 cores, into a
# build directory of its own) and the run takes about twice as long.
#
# Usage: bash scripts/sanitizers.sh address|thread [extra `swift test` arguments, e.g. --filter OutboxTests]
# Reports go to $SANITIZER_LOGS (default /tmp/otpgate-<sanitizer>), one file per process; the script prints them.
#
# ThreadSanitizer cannot see inside the toolchain's `Synchronization.Mutex` (its module is not instrumented), so
# every `Mutex.withLock` used from two threads is reported as a race. Read each report: the accesses it names are
# real races only when they are not both inside one mutex's `withLock`.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer="${1:-}"
case "$sanitizer" in
  address) options_var=ASAN_OPTIONS; options="detect_leaks=0" ;;
  thread) options_var=TSAN_OPTIONS; options="halt_on_error=0 report_signal_unsafe=0" ;;
  *) echo "usage: bash scripts/sanitizers.sh address|thread [swift test arguments]" >&2; exit 2 ;;
esac
shift

scratch=".build-$sanitizer"
logs="${SANITIZER_LOGS:-/tmp/otpgate-$sanitizer}"
mkdir -p "$logs"
rm -f "$logs"/report.*

# shellcheck source=scripts/postgres-cluster.sh
source scripts/postgres-cluster.sh
pg_cluster_start
python3 -c 'import aiosmtpd' >/dev/null 2>&1 || python3 -m pip install --quiet aiosmtpd

swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
export OTPGATE_BIN="$PWD/$scratch/debug/otpgate"
export "$options_var=$options log_path=$logs/report"
status=0
swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" \
  --experimental-maximum-parallelization-width 16 "$@" || status=$?

reports=("$logs"/report.*)
if [ -e "${reports[0]}" ]; then
  echo "sanitizer reports (${#reports[@]} files in $logs):"
  grep -h -E "^(WARNING|ERROR|SUMMARY)" "${reports[@]}" | sort | uniq -c
  exit 1
fi
echo "no sanitizer reports"
exit "$status"
