#!/usr/bin/env bash
# Load benchmark of wicket against nginx and HAProxy on this machine (see docs/benchmarks.md).
#
#   e2e/bench/run.sh [load.py options: --rounds N --duration S --scenarios abcde --publish …]
#
# Installs what is missing (Debian packages nginx, haproxy, wrk, nghttp2-client; the Python
# package matplotlib), builds wicket (release) and the TLS handshake load generator, then runs
# load.py pinned to the load-generator core. Needs root for apt-get only when a package is
# missing. About (3 proxies × 5 scenarios) × rounds × (duration + warm-up + ~2 s) of wall time.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
GEN_CPU="${BENCH_GEN_CPU:-1}"

packages=(nginx haproxy wrk nghttp2-client curl openssl iproute2 util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -q
  # The packaged services are not needed (load.py starts its own instances).
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib

(cd "$REPO" && cargo build --release -p controller --bin wicket)
cargo build --release --manifest-path "$BENCH_DIR/loadgen/Cargo.toml"

[ "$(nproc --all)" -ge 2 ] || echo "warning: fewer than 2 CPUs, the placement is meaningless" >&2
exec taskset -c "$GEN_CPU" python3 "$BENCH_DIR/load.py" \
  --wicket "$REPO/target/release/wicket" \
  --handshake-load "$BENCH_DIR/loadgen/target/release/tls-handshake-load" \
  --gen-cpu "$GEN_CPU" "$@"
