#!/usr/bin/env bash
# Ferry's whole test suite, as CI runs it (.ci/run calls this). On a fresh Debian machine it
# first installs what the tests drive (curl, openssl, tmux, chromium, node, playwright-core),
# then runs formatting and lints, the crate-boundary check, every unit and end-to-end test,
# and a bounded fuzz run of each target (FERRY_FUZZ_SECONDS per target, default 15; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
    echo "test.sh: installing ${need[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}"
fi
# playwright-core drives Debian's Chromium; it never downloads a browser of its own.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

echo "test.sh: cargo fmt --check" >&2
cargo fmt --all -- --check

echo "test.sh: cargo clippy" >&2
cargo clippy --all-targets -- -D warnings

# The sans-IO crates stay free of I/O runtimes (ARCHITECTURE.md).
for crate in ferry-types ferry-proto; do
    if cargo tree -p "$crate" -e normal --prefix none | grep -E '^(tokio|hyper|sqlx|rustls) ' >/dev/null; then
        echo "test.sh: $crate must not depend on an I/O runtime:" >&2
        cargo tree -p "$crate" -e normal >&2
        exit 1
    fi
done

echo "test.sh: cargo test" >&2
cargo test --workspace

secs="${FERRY_FUZZ_SECONDS:-15}"
if [ "$secs" -gt 0 ]; then
    echo "test.sh: fuzzing ${secs}s per target" >&2
    scripts/fuzz.sh "$secs"
fi
echo "test.sh: all green" >&2
