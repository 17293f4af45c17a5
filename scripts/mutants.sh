#!/usr/bin/env bash
# Mutation check: applies, one at a time, the small deliberate faults listed in scripts/mutants/*.mutant, rebuilds,
# runs the tests each fault names, and reports it CAUGHT (the tests failed), MISSED (they passed), BROKEN (the
# mutant does not compile, or its test filter matches no test: a problem of the list) or STALE (its find text no
# longer occurs exactly once in its file). Ends with a markdown table for docs/TESTING.md; exits non-zero if any
# fault was missed, broken or stale. See docs/TESTING.md ("Mutation check", "How to add a fault").
#
# Usage: bash scripts/mutants.sh [--only NAME[,NAME…]] [--allow-dirty] [--no-baseline]
#        bash scripts/mutants.sh --check      every find text occurs exactly once (no build)
#        bash scripts/mutants.sh --list       the faults, their files and tests
# NAME is a file name without .mutant (03-expired-still-checkable), the part after the number, or the number.
#
# Environment: MUTANTS_TEST_TIMEOUT (seconds per test run, default 900), MUTANTS_BUILD_TIMEOUT (default 3600),
# MUTANTS_DRY_RUN=1 (apply, show `git diff --stat`, restore and verify each fault; no PostgreSQL, build or tests).
#
# Exit status: 0 every fault caught; 1 a fault missed, broken or stale; 2 a usage or set-up error (a file differs
# from HEAD, the unmutated tree does not build or fails its tests, …); 3 a file could not be restored (its saved
# copy is named in the message).
#
# The mutated file is always restored from a copy saved before mutating (content and modification time), on
# success, failure, Ctrl-C or SIGTERM, and checked against that copy (and against HEAD when it was clean).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

MUTANTS_DIR=scripts/mutants
TEST_TIMEOUT=${MUTANTS_TEST_TIMEOUT:-900}
BUILD_TIMEOUT=${MUTANTS_BUILD_TIMEOUT:-3600}
DRY_RUN=${MUTANTS_DRY_RUN:-0}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "mutants: $*" >&2; exit 2; }

# ---------------------------------------------------------------------------------------------------------------
# The mutant file format and the exact-text replacement, in Python (no sed escaping).
read -r -d '' MUTANT_PY <<'PY' || true
import os, re, sys

class Malformed(Exception):
    pass

def parse(path):
    name = os.path.basename(path)
    if not re.fullmatch(r"[0-9]{2,3}-[a-z0-9][a-z0-9-]*\.mutant", name):
        raise Malformed("file name must be NN-short-name.mutant or NNN-short-name.mutant (lowercase, digits, dashes)")
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if "\r" in text:
        raise Malformed("carriage return in the file: use Unix line endings")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    description, meta, find, replace, state = None, {}, [], [], "head"
    for number, line in enumerate(lines, 1):
        if state == "head":
            stripped = line.strip()
            if line == "--- find":
                state = "find"
            elif not stripped:
                pass
            elif stripped.startswith("#"):
                if description is None:
                    description = stripped.lstrip("#").strip()
            else:
                key, colon, value = line.partition(":")
                key = key.strip()
                if not colon or key not in ("file", "tests"):
                    raise Malformed(f"line {number}: expected '# description', 'file:', 'tests:' or '--- find'")
                if key in meta:
                    raise Malformed(f"line {number}: '{key}:' given twice")
                meta[key] = value.strip()
        elif state == "find":
            if line == "--- replace":
                state = "replace"
            elif line in ("--- find", "--- end"):
                raise Malformed(f"line {number}: '{line}' inside the find block (expected '--- replace')")
            else:
                find.append(line)
        elif state == "replace":
            if line == "--- end":
                state = "end"
            elif line in ("--- find", "--- replace"):
                raise Malformed(f"line {number}: '{line}' inside the replace block (expected '--- end')")
            else:
                replace.append(line)
        elif line.strip() and not line.strip().startswith("#"):
            raise Malformed(f"line {number}: text after '--- end'")
    if state != "end":
        raise Malformed("expected the blocks '--- find', '--- replace', '--- end' in that order")
    if not description:
        raise Malformed("no '# description' line")
    for key in ("file", "tests"):
        if not meta.get(key):
            raise Malformed(f"no '{key}:' line")
    target = meta["file"]
    if os.path.isabs(target) or ".." in target.split("/"):
        raise Malformed("'file:' must be a path inside the repository, relative to its root")
    if not os.path.isfile(target):
        raise Malformed(f"{target} does not exist")
    try:
        re.compile(meta["tests"])
    except re.error as error:
        raise Malformed(f"'tests:' is not a regular expression: {error}")
    if "\t" in meta["tests"] or "\t" in description:
        raise Malformed("tab in 'tests:' or the description")
    find_text = "".join(line + "\n" for line in find)
    replace_text = "".join(line + "\n" for line in replace)
    if not find_text.strip():
        raise Malformed("the find block is empty")
    if find_text == replace_text:
        raise Malformed("the replace block is the same as the find block")
    return {"name": name[:-len(".mutant")], "description": description, "file": target, "tests": meta["tests"],
            "find": find_text, "replace": replace_text}

def occurrences(text, needle):
    count, at = 0, text.find(needle)
    while at != -1:
        count, at = count + 1, text.find(needle, at + 1)
    return count

def read_target(m):
    with open(m["file"], "rb") as f:
        return f.read().decode("utf-8")

def stale_reason(m):
    count = occurrences(read_target(m), m["find"])
    return None if count == 1 else f"the find text occurs {count} times in {m['file']} (must be exactly once)"

def main(command, args):
    try:
        if command == "info":        # info MUTANT → file TAB tests TAB description
            m = parse(args[0])
            print(f"{m['file']}\t{m['tests']}\t{m['description']}")
        elif command == "check":     # check MUTANT → exit 0 ok, 1 stale, 2 malformed
            m = parse(args[0])
            reason = stale_reason(m)
            if reason:
                print(reason)
                return 1
        elif command == "apply":     # apply MUTANT COPY → writes the mutated text to COPY, then to the file in place
            m = parse(args[0])
            reason = stale_reason(m)
            if reason:
                print(reason)
                return 1
            mutated = read_target(m).replace(m["find"], m["replace"], 1).encode("utf-8")
            with open(args[1], "wb") as f:
                f.write(mutated)
            with open(m["file"], "r+b") as f:   # same inode: truncate and rewrite
                f.seek(0)
                f.write(mutated)
                f.truncate()
        elif command == "matches":   # matches MUTANT TESTLIST → exit 0 if the tests regex matches a listed test
            m = parse(args[0])
            with open(args[1], encoding="utf-8") as f:
                names = [line.strip() for line in f if line.strip()]
            return 0 if any(re.search(m["tests"], name) for name in names) else 1
        elif command == "list":      # list MUTANT… → a readable table
            rows = []
            for path in args:
                try:
                    m = parse(path)
                    rows.append((m["name"], m["file"], m["tests"], m["description"]))
                except Malformed as error:
                    rows.append((os.path.basename(path).removesuffix(".mutant"), "MALFORMED", "", str(error)))
            widths = [max([len(r[i]) for r in rows] + [4]) for i in range(3)]
            print(f"{'NAME':<{widths[0]}}  {'FILE':<{widths[1]}}  {'TESTS':<{widths[2]}}  FAULT")
            for r in rows:
                print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
        elif command == "table":     # table RESULTS.tsv → markdown (name, file, tests, description, result, seconds)
            def cell(text):
                return text.replace("|", "\\|")
            print("| Fault | What it breaks | File | Tests | Result | Time |")
            print("|---|---|---|---|---|---|")
            with open(args[0], encoding="utf-8") as f:
                for line in f:
                    name, target, tests, description, result, seconds = line.rstrip("\n").split("\t")
                    time = f"{int(seconds) // 60}m{int(seconds) % 60:02d}s" if seconds.isdigit() else "–"
                    target = target.removeprefix("Sources/")
                    print(f"| `{name}` | {cell(description)} | `{cell(target)}` | `{cell(tests)}` | {result} | {time} |")
        else:
            print(f"unknown command {command}", file=sys.stderr)
            return 2
    except Malformed as error:
        print(f"malformed: {error}")
        return 2
    return 0

sys.exit(main(sys.argv[1], sys.argv[2:]))
PY
mutant_py() { python3 -c "$MUTANT_PY" "$@"; }

# ---------------------------------------------------------------------------------------------------------------
# Options and the selection of mutants.
mode=run
only=""
allow_dirty=0
baseline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --list) mode=list ;;
    --only) [ $# -ge 2 ] || die "--only needs a NAME[,NAME…]"; only=$2; shift ;;
    --only=*) only=${1#--only=} ;;
    --allow-dirty) allow_dirty=1 ;;
    --no-baseline) baseline=0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

shopt -s nullglob
all=("$MUTANTS_DIR"/*.mutant)
shopt -u nullglob
[ ${#all[@]} -gt 0 ] || die "no mutants in $MUTANTS_DIR"

name_of() { local n; n=$(basename "$1"); echo "${n%.mutant}"; }

selected=()
if [ -z "$only" ]; then
  selected=("${all[@]}")
else
  IFS=',' read -r -a wanted <<<"$only"
  for want in "${wanted[@]}"; do
    want=${want// /}
    [ -n "$want" ] || continue
    found=""
    for path in "${all[@]}"; do
      name=$(name_of "$path")
      if [ "$want" = "$name" ] || [ "$want" = "${name#[0-9][0-9]-}" ] \
        || { [[ $want =~ ^[0-9]+$ ]] && [ $((10#$want)) -eq $((10#${name%%-*})) ]; }; then
        found=$path
        break
      fi
    done
    [ -n "$found" ] || die "no mutant named '$want' (see --list)"
    case " ${selected[*]-} " in *" $found "*) ;; *) selected+=("$found") ;; esac
  done
  [ ${#selected[@]} -gt 0 ] || die "--only selected nothing"
fi

if [ "$mode" = list ]; then
  mutant_py list "${selected[@]}"
  exit 0
fi

if [ "$mode" = check ]; then
  problems=0
  for path in "${selected[@]}"; do
    name=$(name_of "$path")
    rc=0
    reason=$(mutant_py check "$path") || rc=$?
    case $rc in
      0) echo "ok     $name" ;;
      1) echo "STALE  $name: $reason"; problems=$((problems + 1)) ;;
      *) echo "STALE  $name: $reason"; problems=$((problems + 1)) ;;
    esac
  done
  echo "${#selected[@]} mutants, $problems stale"
  [ "$problems" -eq 0 ] || exit 1
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# A run (or a dry run). First: which mutants apply, and are their files as committed?
declare -A FILE TESTS DESC
runnable=()
stale=()
for path in "${selected[@]}"; do
  name=$(name_of "$path")
  rc=0
  reason=$(mutant_py check "$path") || rc=$?
  if [ "$rc" -ne 0 ]; then
    stale+=("$path")
    echo "STALE  $name: $reason"
    continue
  fi
  IFS=$'\t' read -r "FILE[$name]" "TESTS[$name]" "DESC[$name]" < <(mutant_py info "$path")
  runnable+=("$path")
done

declare -A CLEAN
dirty=()
for path in "${runnable[@]}"; do
  name=$(name_of "$path")
  file=${FILE[$name]}
  [ -n "${CLEAN[$file]+set}" ] && continue
  if git ls-files --error-unmatch -- "$file" >/dev/null 2>&1 && git diff --quiet HEAD -- "$file"; then
    CLEAN[$file]=1
  else
    CLEAN[$file]=0
    dirty+=("$file")
  fi
done
if [ ${#dirty[@]} -gt 0 ] && [ "$allow_dirty" -ne 1 ]; then
  printf '  %s\n' "${dirty[@]}" >&2
  die "these files differ from HEAD (or are not tracked); commit or stash them, or pass --allow-dirty"
fi

# One run at a time per user: two runs would mutate files under each other.
exec 9>"${TMPDIR:-/tmp}/otpgate-mutants.$(id -u).lock"
flock -n 9 || die "another mutants.sh run is in progress"

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/otpgate-mutants.XXXXXX")
mkdir -p "$RESULTS/saved"
: >"$RESULTS/results.tsv"
echo "results: $RESULTS"

# The mutant currently applied, so the traps can put its file back.
CUR_FILE=""
CUR_NAME=""
CUR_SAVED=""
CUR_MUTATED=""
CUR_CLEAN=0
CHILD=""
RESTORE_FAILED=0

restore_current() {
  [ -n "$CUR_FILE" ] || return 0
  local file=$CUR_FILE
  CUR_FILE=""
  if [ -f "$CUR_MUTATED" ] && ! cmp -s "$file" "$CUR_MUTATED"; then
    # Someone edited the file while the fault was in it: keep what they wrote before putting the original back.
    cp -p "$file" "$RESULTS/$CUR_NAME.edited-during-run" 2>/dev/null || true
    echo "mutants: WARNING: $file changed while $CUR_NAME was applied; that version is saved as" \
      "$RESULTS/$CUR_NAME.edited-during-run" >&2
  fi
  # cp onto the existing file keeps its inode; -p puts the saved modification time back too.
  if ! cp -p "$CUR_SAVED" "$file" || ! cmp -s "$CUR_SAVED" "$file"; then
    echo "mutants: ERROR: could not restore $file; its original is $CUR_SAVED" >&2
    RESTORE_FAILED=1
    return 1
  fi
  if [ "$CUR_CLEAN" = 1 ] && ! git diff --quiet HEAD -- "$file"; then
    echo "mutants: ERROR: $file differs from HEAD after restoring it; its original is $CUR_SAVED" >&2
    RESTORE_FAILED=1
    return 1
  fi
  return 0
}

stop_child() {
  if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM "$CHILD" 2>/dev/null || true   # timeout(1) passes it on to the build or the tests
    wait "$CHILD" 2>/dev/null || true
  fi
  CHILD=""
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  stop_child
  restore_current || rc=3
  if declare -F pg_cluster_stop >/dev/null; then pg_cluster_stop || true; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'echo "mutants: interrupted" >&2; exit 130' INT TERM

# Runs a command under timeout(1) in the background, so Ctrl-C reaches the traps at once. The lock's descriptor is
# closed for it: a test process that outlives an interrupted run must not keep the next run locked out.
run_logged() {
  local seconds=$1 log=$2
  shift 2
  timeout -k 30 "$seconds" "$@" >"$log" 2>&1 9>&- &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

# Builds and test runs in this working tree that this script did not start (it starts one at a time, and none is
# running when this is called): a fault applied now could be compiled into them.
foreign_builds() {
  local pid
  for pid in $(pgrep -x swift-build || true) $(pgrep -x swift-test || true); do
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$ROOT" ] && echo "$pid"
  done
  return 0
}

apply_mutant() {   # PATH NAME → the fault is in its file and CUR_* describe it; 1 if it no longer applies
  local path=$1 name=$2 file=${FILE[$2]} reason pids
  while pids=$(foreign_builds) && [ -n "$pids" ]; do
    echo "   waiting: a swift build or test not started by this script is running here (pid ${pids//$'\n'/, })"
    sleep 15
  done
  CUR_CLEAN=0
  if git diff --quiet HEAD -- "$file"; then
    CUR_CLEAN=1
  elif [ "$allow_dirty" -ne 1 ]; then
    die "$file was changed during the run (it differs from HEAD now); rerun once it is committed, or pass --allow-dirty"
  fi
  CUR_SAVED="$RESULTS/saved/$name.orig"
  CUR_MUTATED="$RESULTS/saved/$name.mutated"
  cp -p "$file" "$CUR_SAVED" || die "cannot save a copy of $file"
  CUR_NAME=$name
  CUR_FILE=$file
  if ! reason=$(mutant_py apply "$path" "$CUR_MUTATED"); then
    echo "   STALE: $reason"
    restore_current || exit 3
    return 1
  fi
}

record() {   # NAME RESULT SECONDS
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "${FILE[$1]}" "${TESTS[$1]}" "${DESC[$1]}" "$2" "$3" >>"$RESULTS/results.tsv"
}

for path in "${stale[@]}"; do
  name=$(name_of "$path")
  info=$(mutant_py info "$path") || info=$'?\t?\tmalformed mutant file'
  IFS=$'\t' read -r "FILE[$name]" "TESTS[$name]" "DESC[$name]" <<<"$info"
  record "$name" STALE -
done

# ---------------------------------------------------------------------------------------------------------------
if [ "$DRY_RUN" = 1 ]; then
  failures=${#stale[@]}
  for path in "${runnable[@]}"; do
    name=$(name_of "$path")
    file=${FILE[$name]}
    echo "== $name ($file)"
    if ! apply_mutant "$path" "$name"; then failures=$((failures + 1)); continue; fi
    if cmp -s "$CUR_SAVED" "$file"; then echo "   ERROR: applying changed nothing"; failures=$((failures + 1)); fi
    git --no-pager diff --stat -- "$file" | sed 's/^/   /'
    if restore_current && cmp -s "$CUR_SAVED" "$file" \
      && [ "$(stat -c %y "$CUR_SAVED")" = "$(stat -c %y "$file")" ]; then
      echo "   restored: identical to the saved copy (content and modification time)"
    else
      echo "   ERROR: not restored"
      failures=$((failures + 1))
    fi
  done
  echo "dry run: ${#runnable[@]} applied and restored, ${#stale[@]} stale, $failures problem(s)"
  [ "$failures" -eq 0 ] && [ "$RESTORE_FAILED" -eq 0 ]
  exit $?
fi

# ---------------------------------------------------------------------------------------------------------------
# The real run: what the tests need (as scripts/test.sh), a throwaway PostgreSQL, a baseline, then each fault.
if ! dpkg -s libsqlite3-dev >/dev/null 2>&1; then
  echo "installing: libsqlite3-dev"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libsqlite3-dev
fi
# shellcheck source=scripts/postgres-cluster.sh
source scripts/postgres-cluster.sh
pg_cluster_start
trap on_exit EXIT   # pg_cluster_start set its own EXIT trap; ours restores the file and then stops the cluster
# The suites must run on both backends, as in scripts/test.sh.
unset OTPGATE_TEST_SQLITE_ONLY
"$PG_BIN/psql" "$OTPGATE_TEST_POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null || die "the test PostgreSQL is not reachable"

started=$(date +%s)
commit=$(git rev-parse --short HEAD)
[ ${#dirty[@]} -eq 0 ] || commit="$commit with uncommitted changes"
tests_listed=1
union=""
for path in "${runnable[@]}"; do
  name=$(name_of "$path")
  union="${union:+$union|}(${TESTS[$name]})"
done

if [ ${#runnable[@]} -gt 0 ]; then
  echo "baseline: building (log: $RESULTS/baseline.build.log)"
  run_logged "$BUILD_TIMEOUT" "$RESULTS/baseline.build.log" swift build --build-tests \
    || die "the unmutated tree does not build; see $RESULTS/baseline.build.log"
  if ! run_logged 600 "$RESULTS/tests.txt" swift test list --skip-build; then
    echo "mutants: WARNING: 'swift test list' failed, so the tests: filters are not checked in advance" >&2
    : >"$RESULTS/tests.txt"
    tests_listed=0
  fi
  if [ "$baseline" -eq 1 ]; then
    echo "baseline: testing without any fault (log: $RESULTS/baseline.test.log)"
    run_logged "$TEST_TIMEOUT" "$RESULTS/baseline.test.log" swift test --skip-build --filter "$union" \
      || die "the tests fail without any fault, so no fault could be told apart; see $RESULTS/baseline.test.log"
  fi
fi

index=0
for path in "${runnable[@]}"; do
  index=$((index + 1))
  name=$(name_of "$path")
  file=${FILE[$name]}
  tests=${TESTS[$name]}
  build_log="$RESULTS/$name.build.log"
  test_log="$RESULTS/$name.test.log"
  echo "[$index/${#runnable[@]}] $name — ${DESC[$name]}"
  if [ "$tests_listed" = 1 ] && ! mutant_py matches "$path" "$RESULTS/tests.txt"; then
    echo "   BROKEN: tests: '$tests' matches no test (swift test list: $RESULTS/tests.txt)"
    record "$name" "BROKEN (no test matches)" -
    continue
  fi
  t0=$(date +%s)
  if ! apply_mutant "$path" "$name"; then
    record "$name" STALE -
    continue
  fi
  rc=0
  run_logged "$BUILD_TIMEOUT" "$build_log" swift build --build-tests || rc=$?
  if [ "$rc" -ne 0 ]; then
    restore_current || exit 3
    echo "   BROKEN: does not compile (log: $build_log)"
    record "$name" "BROKEN (does not compile)" $(($(date +%s) - t0))
    continue
  fi
  rc=0
  run_logged "$TEST_TIMEOUT" "$test_log" swift test --skip-build --filter "$tests" || rc=$?
  restore_current || exit 3
  seconds=$(($(date +%s) - t0))
  if grep -q "Test run with 0 tests" "$test_log"; then
    result="BROKEN (no test ran)"
  elif [ "$rc" -eq 0 ]; then
    result=MISSED
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    result="CAUGHT (timeout)"
  else
    result=CAUGHT
  fi
  echo "   $result in ${seconds}s (log: $test_log)"
  record "$name" "$result" "$seconds"
done

# .build now holds the last fault's binaries: a later `swift test --skip-build`, or a benchmark of the debug
# `otpgate`, would quietly run that fault. Build the restored tree again.
if [ "${#runnable[@]}" -gt 0 ]; then
  echo "rebuilding the restored tree, so that .build holds no fault"
  run_logged "$BUILD_TIMEOUT" "$RESULTS/restored.build.log" swift build --build-tests ||
    echo "   the restored tree did not build (log: $RESULTS/restored.build.log): rebuild before testing" >&2
fi

# ---------------------------------------------------------------------------------------------------------------
total=$(wc -l <"$RESULTS/results.tsv")
caught=$(cut -f5 "$RESULTS/results.tsv" | grep -c '^CAUGHT' || true)
missed=$(cut -f5 "$RESULTS/results.tsv" | grep -c '^MISSED' || true)
broken=$(cut -f5 "$RESULTS/results.tsv" | grep -c '^BROKEN' || true)
stale_count=$(cut -f5 "$RESULTS/results.tsv" | grep -c '^STALE' || true)
elapsed=$(($(date +%s) - started))
{
  mutant_py table "$RESULTS/results.tsv"
  echo
  echo "$total faults: $caught caught, $missed missed, $broken broken, $stale_count stale." \
    "Commit $commit, $(date -u +%Y-%m-%d), $((elapsed / 60)) min on $(nproc) cores."
} >"$RESULTS/summary.md"
echo
cat "$RESULTS/summary.md"
echo
echo "summary: $RESULTS/summary.md"
[ "$missed" -eq 0 ] && [ "$broken" -eq 0 ] && [ "$stale_count" -eq 0 ] || exit 1
