#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#
# Seeds in fuzz/seeds/<target>/ are copied into the working corpus fuzz/corpus/<target>/
# (gitignored) before each run; crashes land in fuzz/artifacts/<target>/. Exits non-zero
# if any target crashes, leaks, times out or fails to build. Works on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo-fuzz passes.
set -euo pipefail

secs="${1:-30}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]  (a positive whole number, default 30)" >&2
    exit 2
fi

cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
# The fuzz project is its own workspace; keep its sanitizer builds out of the shared
# target dir even when the caller set one.
unset CARGO_TARGET_DIR

mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
if [ "${#targets[@]}" -eq 0 ]; then
    echo "fuzz.sh: no fuzz targets found in fuzz/fuzz_targets" >&2
    exit 1
fi

# Build everything first, so the time limit below covers fuzzing, not compiling.
for target in "${targets[@]}"; do
    cargo fuzz build --fuzz-dir fuzz "$target"
done

failed=()
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -R "fuzz/seeds/$target"/. "$corpus"/
    fi
    echo "fuzz.sh: fuzzing $target for ${secs}s" >&2
    # libFuzzer stops itself after -max_total_time; `timeout` is only a backstop for a
    # hung process (a slow single input is caught by -timeout).
    status=0
    timeout --kill-after=30 "$((secs + 120))" \
        cargo fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        || status=$?
    if [ "$status" -ne 0 ]; then
        echo "fuzz.sh: target $target FAILED (exit $status); see fuzz/artifacts/$target/" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz.sh: failing targets: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} target(s) ran ${secs}s without a crash: ${targets[*]}" >&2
