#!/usr/bin/env bash
# Runs every comparison benchmark in one go test process and prints a markdown
# table of medians (path × implementation, with ratios to Keel).
#
# Environment:
#   COUNT      runs of each benchmark (default 5); the table shows medians
#   BENCHTIME  go test -benchtime (default 1s)
#   BENCH      go test -bench pattern (default .)
#   TAGS       go test -tags (default none)
# The raw output is kept in bench/results/latest.txt for benchstat.
set -euo pipefail

cd "$(dirname "$0")"
count="${COUNT:-5}"
benchtime="${BENCHTIME:-1s}"
pattern="${BENCH:-.}"
tags="${TAGS:-}"

mkdir -p results
raw=results/latest.txt

echo "go test -run='^\$' -bench='$pattern' -benchmem -count=$count -benchtime=$benchtime ${tags:+-tags=$tags} ." >&2
# One process for every path, so that every contender sees the same machine state.
if ! go test -run='^$' -bench="$pattern" -benchmem -count="$count" -benchtime="$benchtime" \
	${tags:+-tags="$tags"} . >"$raw" 2>&1; then
	cat "$raw" >&2
	echo "bench/run.sh: go test failed; raw output in bench/$raw" >&2
	exit 1
fi

{
	echo "Go $(go env GOVERSION), $(go env GOOS)/$(go env GOARCH), $(nproc) CPUs," \
		"$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU')"
	echo "count=$count benchtime=$benchtime; medians; raw output in bench/$raw"
	echo
} >&2
go run ./benchtable <"$raw"
