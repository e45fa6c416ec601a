#!/usr/bin/env bash
# Runs the shim comparison that docs/performance.md reports:
#   bench/run.sh            full run (5 rounds × 9 cells × 3 servers, ~12 min on 2 cores)
#   bench/run.sh -quick     CI-sized (~35 s)
# Any other flags go to cmd/compare (see `go run ./cmd/compare -h`).
# With taskset and ≥ 2 CPUs the servers run on the last CPU and the load
# generator on the others, so they do not compete for CPU; BENCH_PIN=0
# turns that off.
set -euo pipefail
cd "$(dirname "$0")"
export GOTOOLCHAIN=local
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/server" ./cmd/server
go build -o "$tmp/compare" ./cmd/compare
n=$(nproc)
if [[ "${BENCH_PIN:-1}" != 0 && $n -ge 2 ]] && command -v taskset >/dev/null; then
	last=$((n - 1))
	echo "# servers on CPU $last, load generator on CPUs 0-$((last - 1))" >&2
	taskset -c "0-$((last - 1))" "$tmp/compare" -server "$tmp/server" -server-cpus "$last" "$@"
else
	echo "# servers and load generator share all $n CPUs" >&2
	"$tmp/compare" -server "$tmp/server" "$@"
fi
