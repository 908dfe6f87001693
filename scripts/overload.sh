#!/usr/bin/env bash
# overload.sh runs the overload and hedging experiment (bench/overload) on
# loopback: a backend of fixed capacity driven at 1×, 2× and 4× its capacity,
# without and with Keel in front, and a slow-tail backend called with and
# without hedging. It prints markdown tables and writes docs/overload.svg.
# It takes about 40 seconds; extra arguments go to the program (see
# `go run ./overload -h` in bench/).
#
#   scripts/overload.sh
#   scripts/overload.sh -phase 5s -seed 7
set -euo pipefail

cd "$(dirname "$0")/../bench"
exec go run ./overload -out ../docs/overload.svg "$@"
