#!/usr/bin/env bash
# vet.sh checks the house invariants that go vet and golangci-lint do not know
# about. Each rule prints every offending file and what to do about it; the
# script exits 1 if any rule failed. Run it from anywhere: it checks the
# repository it lives in.
#
# Rules:
#   time-after     no time.After( in non-test Go code (it leaks a timer until
#                  it fires; use time.NewTimer and Stop it)
#   package-names  no packages named util, utils, common, helpers or misc
#   telemetry      OpenTelemetry and Prometheus are imported only under telemetry/
#   core-imports   core packages import only the standard library,
#                  golang.org/x/... and this module (their tests, and
#                  test-support packages named *test, may also import go-cmp
#                  and goleak); the edges listed in is_edge may import anything
#   todo-panics    no panic("TODO...") or panic("not implemented...")
#   doc-go         every package directory has a doc.go
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

module="$(awk '$1 == "module" { print $2; exit }' go.mod)"
failed=0

fail() { # rule, message
	printf 'vet.sh: %s: %s\n' "$1" "$2" >&2
	failed=1
}

# Go files of the repository, without testdata, vendor and hidden directories.
go_files() {
	find . \( -name testdata -o -name vendor -o -name '.*' ! -name . \) -prune -o \
		-type f -name '*.go' -print | sed 's|^\./||' | LC_ALL=C sort
}

# Directories outside the core, where third-party dependencies may enter.
# keelgrpc is the gRPC adapter: it cannot exist without importing gRPC, and
# only programs that already use gRPC import it. chaos/tcpproxy itself uses
# the standard library only; its compatibility test imports the official
# Toxiproxy client.
is_edge() {
	case "$1" in
	telemetry | telemetry/* | gateway | gateway/* | cmd | cmd/* | dashboard | dashboard/* | \
		examples | examples/* | bench | bench/* | tools | tools/* | keelgrpc | keelgrpc/* | chaos/tcpproxy) return 0 ;;
	idempotency/*store | idempotency/*store/*) return 0 ;;
	esac
	return 1
}

# imports FILE prints the import paths of a Go file, one a line.
imports() {
	awk '
		/^import[ \t]*\(/ { block = 1; next }
		block && /^\)/ { block = 0; next }
		block || /^import[ \t]/ {
			if (match($0, /"[^"]+"/)) print substr($0, RSTART + 1, RLENGTH - 2)
		}
		/^(func|type|var|const)[ \t]/ { exit }
	' "$1"
}

files="$(go_files)"

# --- time-after ---
for f in $files; do
	case "$f" in *_test.go) continue ;; esac
	# Comment lines may mention it; code may not.
	hits="$(grep -n 'time\.After(' "$f" | grep -v '^[0-9]*:[[:space:]]*//' || true)"
	[ -z "$hits" ] && continue
	while IFS= read -r hit; do
		fail time-after "$f:$hit: use time.NewTimer and Stop it (time.After holds its timer until it fires)"
	done <<<"$hits"
done

# --- package-names ---
seen=" "
for f in $files; do
	dir="$(dirname "$f")"
	pkg="$(awk '$1 == "package" { print $2; exit }' "$f")"
	for name in "$(basename "$dir")" "${pkg%_test}"; do
		case "$name" in
		util | utils | common | helpers | misc)
			case "$seen" in *" $dir:$name "*) continue ;; esac
			seen="$seen$dir:$name "
			fail package-names "$dir/: package or directory named \"$name\": name a package for what it provides (STYLE.md rule 1)"
			;;
		esac
	done
done

# --- telemetry and core-imports ---
# Reported once per directory and import, naming the first file.
seen=" "
for f in $files; do
	dir="$(dirname "$f")"
	for imp in $(imports "$f"); do
		case "$seen" in *" $dir:$imp "*) continue ;; esac
		case "$imp" in
		go.opentelemetry.io/* | github.com/prometheus/*)
			case "$dir" in
			telemetry | telemetry/*) ;;
			*)
				seen="$seen$dir:$imp "
				fail telemetry "$f imports $imp: OpenTelemetry and Prometheus belong under telemetry/ only"
				continue
				;;
			esac
			;;
		esac
		is_edge "$dir" && continue
		first="${imp%%/*}"
		case "$imp" in
		"$module" | "$module"/* | golang.org/x/*) continue ;;
		esac
		case "$first" in *.*) ;; *) continue ;; esac # standard library: no dot in the first element
		# Tests, and the test-support packages users import from their tests
		# (keeltest, idempotencytest), may use go-cmp and goleak.
		case "$f" in
		*_test.go | *test/*.go)
			case "$imp" in github.com/google/go-cmp/* | go.uber.org/goleak) continue ;; esac
			;;
		esac
		seen="$seen$dir:$imp "
		fail core-imports "$f imports $imp: core packages use the standard library, golang.org/x/... and $module only (tests may add go-cmp and goleak)"
	done
done

# --- todo-panics ---
if hits="$(grep -HnE 'panic\("(TODO|not implemented)' $files /dev/null)"; then
	while IFS= read -r hit; do
		fail todo-panics "$hit: unfinished code; implement it or return an error"
	done <<<"$hits"
fi

# --- doc-go ---
for dir in $(for f in $files; do
	case "$f" in *_test.go) ;; *) dirname "$f" ;; esac
done | LC_ALL=C sort -u); do
	if [ ! -f "$dir/doc.go" ]; then
		fail doc-go "$dir/ has no doc.go: add one with the package overview"
	fi
done

if [ "$failed" -ne 0 ]; then
	echo "vet.sh: FAILED" >&2
	exit 1
fi
echo "vet.sh: ok"
