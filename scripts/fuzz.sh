#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang-14 (ASan + UBSan) and runs each for a while
# on a scratch copy of its seed corpus (fuzz/corpus/<target>/ is never written to).
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--jobs J] [target...]
#
#   --seconds N     time per target (default 60: the CI smoke check)
#   --build-dir DIR build folder (default build-fuzz)
#   --jobs J        targets fuzzed at once (default 2)
#   target          tfjs_weights image_decode gallery_import http_native api_params (default: all)
#
# Exits non-zero when any target crashes, leaks, times out or runs out of memory, and prints the
# path of the input that did it (reproduce with: BUILD/fuzz/<target>_fuzz <input>).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
build_dir=build-fuzz
jobs=2
targets=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all_targets=(tfjs_weights image_decode gallery_import http_native api_params)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

# Longest input per target: big enough for the seeds and their interesting growth, small
# enough to keep executions fast.
max_len_for() {
  case $1 in
    tfjs_weights) echo 8192 ;;
    image_decode) echo 16384 ;;
    gallery_import) echo 16384 ;;
    http_native) echo 8192 ;;
    api_params) echo 2048 ;;
    *) echo "fuzz.sh: unknown target $1 (known: ${all_targets[*]})" >&2; exit 2 ;;
  esac
}
for target in "${targets[@]}"; do max_len_for "$target" > /dev/null; done

[[ $build_dir = /* ]] || build_dir=$root/$build_dir
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
fi
# A build folder already configured with fuzzers (the asan preset's build-asan, which
# scripts/test.sh reuses so CI compiles the library once) is used as it is.
if ! grep -qs '^SIAMFACE_BUILD_FUZZERS:BOOL=ON' "$build_dir/CMakeCache.txt"; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSIAMFACE_BUILD_FUZZERS=ON -DSIAMFACE_BUILD_TOOLS=OFF -DSIAMFACE_BUILD_TESTS=OFF \
    -DSIAMFACE_BUILD_BENCH=OFF "${launcher[@]}" > /dev/null
fi
cmake --build "$build_dir" -j"${CMAKE_BUILD_PARALLEL_LEVEL:-2}" --target "${targets[@]/%/_fuzz}"

work=$(mktemp -d "${TMPDIR:-/tmp}/siamface-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one target; its log and any crash input stay under $work/<target>/.
fuzz_one() {
  local target=$1 dir=$work/$1
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$root/fuzz/corpus/$target/"* "$dir/corpus/"
  local args=(-max_total_time="$seconds" -max_len="$(max_len_for "$target")" -timeout=10
              -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/")
  [[ -f $root/fuzz/$target.dict ]] && args+=(-dict="$root/fuzz/$target.dict")
  local status=0
  "$build_dir/fuzz/${target}_fuzz" "${args[@]}" "$dir/corpus" > "$dir/log" 2>&1 || status=$?
  echo "$status" > "$dir/status"
}

running=0
for target in "${targets[@]}"; do
  fuzz_one "$target" &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then wait -n || true; running=$((running - 1)); fi
done
wait

failed=0
for target in "${targets[@]}"; do
  dir=$work/$target
  status=$(cat "$dir/status" 2> /dev/null || echo 1)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || true)
  if [[ $status -eq 0 ]]; then
    echo "fuzz $target: ok, ${seconds}s, $runs runs, $last"
  else
    failed=1
    # Keep the crash inputs: they would vanish with $work.
    keep=$build_dir/fuzz-artifacts/$target
    rm -rf "$keep"
    mkdir -p "$keep"
    cp "$dir/artifacts/"* "$keep/" 2> /dev/null || true
    cp "$dir/log" "$keep/log"
    echo "fuzz $target: FAILED (exit $status); log: $keep/log" >&2
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error|SUMMARY' \
      "$dir/log" | head -n 5 >&2 || true
    for input in "$keep"/crash-* "$keep"/leak-* "$keep"/timeout-* "$keep"/oom-* "$keep"/slow-unit-*; do
      [[ -e $input ]] && echo "  input: $input (reproduce: $build_dir/fuzz/${target}_fuzz $input)" >&2
    done
  fi
done
exit "$failed"
