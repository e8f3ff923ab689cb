#!/usr/bin/env bash
# Propagation latency: change → first request served by the new route, p50/p99 over
# CHANGES changes, with 100 and 5,000 existing Ingresses, in both source modes (see
# docs/benchmarks.md). The api mode runs wicket against the Kubernetes API server double of
# e2e/ with the backend in a network-namespace pod, so it needs root; without root it is
# skipped.
#
#   e2e/bench/propagation.sh [CHANGES]      (default 100)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHANGES="${1:-100}"
cd "$REPO"
cargo build --release -p controller --bin wicket
cargo build -p e2e --example propagation
export WICKET_BIN="$REPO/target/release/wicket"

modes=(manifests)
if [ "$(id -u)" = 0 ]; then modes+=(api); else echo "not root: the api mode is skipped" >&2; fi

log="$(mktemp -t wicket-propagation.XXXXXX)"
results=()
for mode in "${modes[@]}"; do
  for existing in 100 5000; do
    echo "propagation: mode $mode, $existing existing Ingresses, $CHANGES changes" >&2
    if ! line="$(target/debug/examples/propagation --mode "$mode" --existing "$existing" \
      --changes "$CHANGES" 2>"$log" | tail -n 1)" || [ -z "$line" ]; then
      tail -n 20 "$log" >&2
      exit 1
    fi
    echo "$line"
    results+=("$line")
  done
done

echo
echo "| source | existing Ingresses | changes | p50 ms | p99 ms | max ms |"
echo "|---|---:|---:|---:|---:|---:|"
for line in "${results[@]}"; do
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("| {mode} | {existing_ingresses} | {changes} | {p50_ms:.1f} | {p99_ms:.1f} | {max_ms:.1f} |".format(**r))
' "$line"
done
rm -f "$log"
