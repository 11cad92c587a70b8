#!/usr/bin/env bash
# Ferry's whole test suite, as CI runs it (.ci/run calls this). On a fresh Debian machine it
# first installs what the tests drive (curl, openssl, dig, tmux, chromium, pebble, node, playwright-core),
# then runs formatting, lints, the documentation and unused-dependency gates, the
# crate-boundary check, every unit and end-to-end test,
# and a bounded fuzz run of each target (FERRY_FUZZ_SECONDS per target, default 15; 0 skips).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's line says how far into the run it starts, so that a slow CI run shows where
# its time went (the budget is 25 minutes on two cores).
say() { echo "test.sh: [${SECONDS}s] $*" >&2; }

# The pinned toolchain (rust-toolchain.toml). rustup downloads it where it can; where it
# cannot (no internet) but the installed stable toolchain is that very release, it is named
# so here, as rustup names a downloaded one.
pinned="$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)"
if command -v rustup >/dev/null 2>&1 && ! rustup toolchain list | grep -q "^$pinned-"; then
    if rustc +stable --version 2>/dev/null | grep -q "^rustc $pinned "; then
        host="$(rustc +stable -vV | sed -n 's/^host: //p')"
        ln -s "$(rustc +stable --print sysroot)" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pinned-$host"
    fi
fi

need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Let's Encrypt's test CA, which the ACME tests (tests/e2e/acme.rs) issue from.
[ -x /usr/bin/pebble ] || need+=(pebble)
# promtool checks the text format of the edge's and the agent's metrics (tests/e2e/metrics.rs);
# only that tool of the package is used.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# systemd-analyze verifies the units `ferry service install` writes (tests/e2e/operations.rs);
# systemd-socket-activate starts an edge with its sockets as systemd would (tests/e2e/upgrade.rs).
{ [ -x /usr/bin/systemd-analyze ] && [ -x /usr/bin/systemd-socket-activate ]; } || need+=(systemd)
# sqlite3 plays a newer Ferry's migration in tests/e2e/operations.rs.
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need[@]}"
fi
# playwright-core drives Debian's Chromium; it never downloads a browser of its own.
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# PostgreSQL: the store's tests and part of the end-to-end suite run against it as well as
# SQLite, each test in its own fresh database. Use the local server on 127.0.0.1:5432 if one
# answers (trust auth, user postgres); otherwise install Debian's and start it.
export FERRY_TEST_POSTGRES_URL="${FERRY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [ "$FERRY_TEST_POSTGRES_URL" = "postgres://postgres@127.0.0.1:5432/postgres" ] && ! pg_answers; then
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        say "installing postgresql"
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq postgresql
    fi
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
        # Tests connect as postgres over loopback without a password.
        $sudo sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    fi
    say "starting PostgreSQL $version"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 60); do pg_answers && break; sleep 0.5; done
fi
if command -v psql >/dev/null 2>&1; then
    if ! psql "$FERRY_TEST_POSTGRES_URL" -qtAc 'SELECT 1' >/dev/null; then
        say "PostgreSQL at $FERRY_TEST_POSTGRES_URL does not accept connections; the suite needs it"
        exit 1
    fi
    # Each test makes its own ferry_test_<random> database; drop those of earlier runs (one
    # still in use by a concurrent run refuses, and is left alone).
    for db in $(psql "$FERRY_TEST_POSTGRES_URL" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'ferry\_test\_%'"); do
        psql "$FERRY_TEST_POSTGRES_URL" -qtAc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true
    done
elif ! pg_answers; then
    say "no PostgreSQL answers on 127.0.0.1:5432; the suite needs it"
    exit 1
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

# Every public item of the library crates is documented (missing_docs in their lib.rs) and
# the documentation builds without a broken link.
say "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# No dependency is declared that nothing uses (the fuzz workspace included).
say "unused dependencies (cargo machete)"
if ! cargo machete --version >/dev/null 2>&1; then
    say "installing cargo-machete"
    cargo install cargo-machete --locked --quiet
fi
cargo machete

# The sans-IO crates stay free of I/O runtimes (ARCHITECTURE.md).
for crate in ferry-types ferry-proto; do
    if cargo tree -p "$crate" -e normal --prefix none | grep -E '^(tokio|hyper|sqlx|rustls) ' >/dev/null; then
        say "$crate must not depend on an I/O runtime:"
        cargo tree -p "$crate" -e normal >&2
        exit 1
    fi
done

say "cargo test"
cargo test --workspace

# ngrok's muxado as Ferry runs it (vendor/muxado/FERRY.md): its own tests, with its own lockfile.
say "vendored muxado's tests"
cargo test --locked --manifest-path vendor/muxado/Cargo.toml --target-dir "${CARGO_TARGET_DIR:-target}"

# The REST API through ngrok's own Python API client, then against its OpenAPI document:
# schemathesis (both from PyPI, in a venv kept in the target dir) drives a dev edge for a
# bounded number of examples per operation and fails on any 5xx or any answer that breaks
# the document.
say "ngrok's Python API client and schemathesis against the REST API"
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
    if ! python3 -m venv --help >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq python3-venv
    fi
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
# ngrok's official Python API client, which must work given Ferry's base URL.
"$venv/bin/python" -c 'import ngrok' 2>/dev/null || "$venv/bin/pip" install -q ngrok-api
cargo build -q
st_dir="$(mktemp -d)"
"$target/debug/ferry" edge --dev --data-dir "$st_dir/data" --ready-file "$st_dir/ready.json" \
    >"$st_dir/edge.log" 2>&1 &
st_edge=$!
trap 'kill "$st_edge" 2>/dev/null || true; rm -rf "$st_dir"' EXIT
for _ in $(seq 1 120); do [ -s "$st_dir/ready.json" ] && break; sleep 0.25; done
json_key() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
api_url="$(json_key "$st_dir/ready.json" api_url)"
api_key="$(json_key "$st_dir/data/dev.json" api_key)"
"$venv/bin/python" tests/api_client/ngrok_api_client.py "$api_url" "$api_key"
# Run from the scratch dir: schemathesis keeps a cache in its working directory.
(cd "$st_dir" && "$venv/bin/schemathesis" run "$api_url/openapi.json" \
    -H "Authorization: Bearer $api_key" -H "Ngrok-Version: 2" \
    --max-examples "${FERRY_SCHEMATHESIS_EXAMPLES:-10}" --request-timeout 10 \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance)
kill "$st_edge" 2>/dev/null || true

secs="${FERRY_FUZZ_SECONDS:-15}"
if [ "$secs" -gt 0 ]; then
    say "fuzzing ${secs}s per target"
    scripts/fuzz.sh "$secs"
fi
say "all green"
