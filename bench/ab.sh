#!/usr/bin/env bash
# A/B throughput of two release builds in one run on one machine: alternating pairs of bench/run.sh, A then B,
# on each database, and the median of each side. Absolute figures differ between machines; the ratio B/A is what
# this script is for (issue 11: "within 10 % of the previous commit").
# Usage: bash bench/ab.sh A_BINARY B_BINARY     (AB_PAIRS=3, AB_DATABASES="sqlite postgres"; bench/run.sh knobs apply)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
A_BIN=${1:?usage: bash bench/ab.sh A_BINARY B_BINARY}
B_BIN=${2:?usage: bash bench/ab.sh A_BINARY B_BINARY}
PAIRS=${AB_PAIRS:-3}
DATABASES=${AB_DATABASES:-sqlite postgres}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/otpgate-ab.XXXXXX")
for bin in "$A_BIN" "$B_BIN"; do [[ -x $bin ]] || { echo "not an executable: $bin" >&2; exit 1; }; done

run_one() { # side binary database pair
    local results="$OUT/$1-$3-$4"
    mkdir -p "$results"
    OTPGATE_BIN=$2 BENCH_DATABASE=$3 BENCH_RESULTS_DIR="$results" bash "$BENCH_DIR/run.sh" >"$results.log" 2>&1 \
        || { echo "bench/run.sh failed for $1 on $3 (pair $4): see $results.log" >&2; exit 1; }
    # summary.tsv rows: workload, requests/s, p50, p99, … — keep the first word of the workload and its requests/s.
    awk -F'\t' -v side="$1" -v db="$3" -v pair="$4" 'NR > 1 { split($1, w, " "); print side, db, w[1], pair, $2, $4 }' \
        "$results"/*/summary.tsv >>"$OUT/rows.txt"
    echo "[ab] $1 $3 pair $4: $(awk -F'\t' 'NR > 1 { split($1, w, " "); printf "%s %s/s  ", w[1], $2 }' "$results"/*/summary.tsv)" >&2
}

for pair in $(seq 1 "$PAIRS"); do
    for db in $DATABASES; do
        run_one A "$A_BIN" "$db" "$pair"
        run_one B "$B_BIN" "$db" "$pair"
    done
done

echo
echo "A: $A_BIN"
echo "B: $B_BIN"
echo "pairs: $PAIRS, run in the order A, B on each database"
echo
echo "| database | workload | A requests/s (median) | B requests/s (median) | B / A | A runs | B runs |"
echo "|---|---|---:|---:|---:|---|---|"
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for db in $DATABASES; do
    for workload in start check; do
        a=$(awk -v db="$db" -v w="$workload" '$1 == "A" && $2 == db && $3 == w { print $5 }' "$OUT/rows.txt")
        b=$(awk -v db="$db" -v w="$workload" '$1 == "B" && $2 == db && $3 == w { print $5 }' "$OUT/rows.txt")
        [[ -n $a && -n $b ]] || continue
        am=$(echo "$a" | median)
        bm=$(echo "$b" | median)
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$db" "$workload" "$am" "$bm" \
            "$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%.3f", b / a }')" "$(echo $a | tr ' ' ',')" "$(echo $b | tr ' ' ',')"
    done
done
echo
echo "raw results: $OUT"
