#!/usr/bin/env bash
# Ferry's benchmark: the same work directly, through Ferry, through rathole with TLS, and
# through nginx (TLS) in front of rathole and alone, in one run on loopback. Installs what
# it needs (iperf3, openssl, Debian's nginx, rathole 0.5.0 from crates.io with its TLS
# transport), builds Ferry in release mode, and prints the table that
# BENCHMARKS.md keeps. `bench/run.sh --quick` takes about a minute; the default under ten.
# Any other arguments go to ferry-bench (`--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v iperf3 >/dev/null || need_pkgs+=(iperf3)
command -v openssl >/dev/null || need_pkgs+=(openssl)
# nginx is in /usr/sbin, which a non-root PATH may lack; the harness runs it with its own
# configuration in a scratch folder, never as the system's service.
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx ]] || need_pkgs+=(nginx)
# rathole's TLS transport links OpenSSL through native-tls.
dpkg -s libssl-dev >/dev/null 2>&1 || need_pkgs+=(libssl-dev)
command -v pkg-config >/dev/null || need_pkgs+=(pkg-config)
if ((${#need_pkgs[@]})); then
    echo "bench: installing ${need_pkgs[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "bench: run as root, or install ${need_pkgs[*]} first" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

tools=target/bench-tools
if ! "$tools/bin/rathole" --version 2>/dev/null | grep -q '0\.5\.0'; then
    echo "bench: building rathole 0.5.0 (server, client, tls) into $tools" >&2
    cargo install rathole --version 0.5.0 --no-default-features \
        --features server,client,tls --root "$tools" --quiet
fi

cargo build --release --quiet --bin ferry
cargo build --release --quiet -p ferry-bench
# 1,000 held connections pass through four processes' descriptor tables.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec target/release/ferry-bench --ferry target/release/ferry \
    --rathole "$tools/bin/rathole" --nginx "$nginx" "$@"
