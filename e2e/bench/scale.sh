#!/usr/bin/env bash
# Scale: RSS and publish time of wicket (release build) with 10,000 Ingresses (20,000 paths),
# 2,000 Services with 3 endpoints each and 500 TLS hosts, in manifests mode (see
# docs/benchmarks.md). Extra arguments go to the tool, e.g. --ingresses 20000.
#
#   e2e/bench/scale.sh [--ingresses N] [--services N] [--tls-hosts N] [--changes N]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
cargo build --release -p controller --bin wicket
cargo build -p e2e --example scale
log="$(mktemp -t wicket-scale.XXXXXX)"
if ! line="$(WICKET_BIN="$REPO/target/release/wicket" target/debug/examples/scale "$@" 2>"$log" | tail -n 1)" \
   || [ -z "$line" ]; then
  tail -n 20 "$log" >&2
  exit 1
fi
rm -f "$log"
python3 -m json.tool <<< "$line"
