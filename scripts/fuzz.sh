#!/usr/bin/env bash
# Runs the libFuzzer harnesses of tests/fuzz (ASan+UBSan), building them first.
#   scripts/fuzz.sh [options] [target|all] [seconds per target, default 60]
# Options:
#   --build-dir DIR   the CMake build folder (default: build); the fuzzers land in DIR/fuzz
#   --no-build        use the fuzzers already built
#   --min-runs N      stop after N executions, and fail when the time ran out first (CI)
# Each target starts from its seeds in tests/fuzz/corpus/<target> (and dictionary
# tests/fuzz/dict/<target>.dict). Without --min-runs, new inputs accumulate in
# DIR/fuzz/corpus/<target>, so longer local runs build on each other; with it, they go to
# a temporary folder. A crashing input is written to DIR/fuzz/findings/<target>/ and the
# script exits with libFuzzer's status; add the input to the seed corpus with the fix.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
do_build=1
min_runs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --min-runs) min_runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
target="${1:-all}"
seconds="${2:-60}"
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

if [ "$do_build" = 1 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
  cmake --build "$build" --target sd_fuzzers -j2
fi

if [ "$target" = all ]; then
  targets=$(cd "$root/tests/fuzz/corpus" && ls)
else
  targets="$target"
fi

status=0
for t in $targets; do
  bin="$build/fuzz/bin/fuzz_$t"
  seeds="$root/tests/fuzz/corpus/$t"
  [ -x "$bin" ] || { echo "fuzz.sh: $bin not built (unknown target '$t'?)" >&2; exit 2; }
  [ -d "$seeds" ] || { echo "fuzz.sh: no seed corpus $seeds" >&2; exit 2; }
  findings="$build/fuzz/findings/$t"
  mkdir -p "$findings"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$findings/")
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && args+=(-dict="$root/tests/fuzz/dict/$t.dict")
  if [ -n "$min_runs" ]; then
    corpus="$(mktemp -d)"
    trap 'rm -rf "$corpus"' EXIT
    args+=(-runs="$min_runs")
  else
    corpus="$build/fuzz/corpus/$t"
    mkdir -p "$corpus"
  fi
  log="$build/fuzz/$t.log"
  rc=0
  (cd "$build/fuzz" && "$bin" "${args[@]}" "$corpus" "$seeds") > "$log" 2>&1 || rc=$?
  if [ -n "$min_runs" ]; then rm -rf "$corpus"; trap - EXIT; fi
  if [ "$rc" = 3 ]; then  # the harness's data is missing (fuzz_support.h)
    tail -n 1 "$log"
    if [ "${CI:-}" = true ]; then echo "fuzz $t: FAILED, its data is missing in CI" >&2; status=1; continue; fi
    exit 77
  fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  if [ "$rc" != 0 ]; then
    tail -n 60 "$log"
    echo "fuzz $t: FAILED (libFuzzer status $rc); input and log in $findings/ and $log" >&2
    status=1  # not libFuzzer's 77 for a finding: ctest reads 77 as a skip
    continue
  fi
  echo "fuzz $t: ${runs:-?} runs, $(grep -o 'cov: [0-9]*' "$log" | tail -n 1), $(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1), no findings"
  if [ -n "$min_runs" ] && [ "${runs:-0}" -lt "$min_runs" ]; then
    echo "fuzz $t: FAILED, only ${runs:-0} of $min_runs runs within $seconds s" >&2
    status=1
  fi
done
exit $status
