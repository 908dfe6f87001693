#!/usr/bin/env bash
# fuzz.sh finds every fuzz target (func FuzzXxx(f *testing.F)) in the main
# module and runs each one on its own for FUZZTIME (default 10s):
#
#	go test -run='^$' -fuzz='^FuzzXxx$' -fuzztime=10s ./pkg
#
# A failing input is saved under the package's testdata/fuzz/ by go test; the
# script goes on with the other targets and exits 1 at the end if any failed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
fuzztime="${FUZZTIME:-10s}"

# Test files of the main module only: bench/ and tools/ are modules of their own.
targets="$(
	find . \( -name testdata -o -name vendor -o -name bench -o -name tools -o -name '.*' ! -name . \) -prune -o \
		-type f -name '*_test.go' -print |
		LC_ALL=C sort |
		while IFS= read -r f; do
			sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*\*testing\.F).*/\1/p' "$f" |
				while IFS= read -r fn; do printf '%s %s\n' "$(dirname "$f")" "$fn"; done
		done
)"

if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets found"
	exit 0
fi

# fuzz_one runs one target. Go 1.26's fuzz coordinator can report a bare
# "context deadline exceeded" exactly when -fuzztime ends, on a loaded machine,
# without having found anything (golang/go#75804, fixed in Go 1.27). A real
# finding always writes a reproducer ("Failing input written to ..."), so a
# failure of that exact shape, and only that shape, is run once more.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
fuzz_one() {
	local dir="$1" fn="$2" try
	for try in 1 2; do
		if go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" "$dir" >"$out" 2>&1; then
			cat "$out"
			return 0
		fi
		if [ "$try" = 1 ] && grep -q '^    context deadline exceeded$' "$out" &&
			! grep -q 'Failing input written to' "$out" && ! grep -q 'panic:' "$out"; then
			# Shown indented, so that summaries of ok/FAIL lines skip it.
			sed 's/^/    (deadline race) /' "$out"
			echo "fuzz.sh: $dir $fn: the fuzz coordinator's deadline race (golang/go#75804), no input found; running it again"
			continue
		fi
		cat "$out"
		return 1
	done
	return 1
}

n=0
failed=""
while IFS=' ' read -r dir fn; do
	n=$((n + 1))
	echo "fuzz.sh: $dir $fn ($fuzztime)"
	if ! fuzz_one "$dir" "$fn"; then
		failed="$failed $dir:$fn"
	fi
done <<<"$targets"

if [ -n "$failed" ]; then
	echo "fuzz.sh: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz.sh: $n fuzz targets passed ($fuzztime each)"
