#!/bin/sh
# One fuzz-smoke test (CTest runs it, see CMakeLists.txt here):
#   smoke.sh BINARY FUZZ_SOURCE_DIR WORK_DIR SECONDS
# Replays the target's kept crash inputs (regressions/<target>/), then fuzzes
# a copy of its seeds (corpus/<target>/) for SECONDS. Any libFuzzer report,
# or any input it saved as an artifact, fails the test.
set -eu
binary=$1 source=$2 work=$3 seconds=$4
target=$(basename "$binary")

rm -rf "$work"
mkdir -p "$work/corpus" "$work/crashes"
cp -R "$source/corpus/$target/." "$work/corpus/"

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
set -- -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/crashes/"

regressions=$source/regressions/$target
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
  echo "replaying $regressions"
  # Files given by name are run once each.
  "$binary" "$@" "$regressions"/*
fi

if [ -f "$source/$target.dict" ]; then set -- "$@" -dict="$source/$target.dict"; fi
"$binary" "$@" -max_total_time="$seconds" -print_final_stats=1 "$work/corpus"

if [ -n "$(ls -A "$work/crashes")" ]; then
  echo "libFuzzer saved inputs in $work/crashes:" >&2
  ls -l "$work/crashes" >&2
  exit 1
fi
