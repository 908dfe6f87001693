#!/usr/bin/env bash
# Proxy benchmark: Keel's gateway side by side with nginx, HAProxy, Caddy and a
# minimal httputil.ReverseProxy, in one run, each proxy alone on one core, in
# front of the same three loopback backends with keep-alive upstream
# connections. "direct" (the load generator straight to one backend) is the
# limit. For each contender it reports
#
#   - throughput and the proxy's CPU time per request at saturation
#     (wrk -t1 -c64; CPU = utime+stime of the proxy's processes from
#     /proc/<pid>/stat, sampled before and after the run);
#   - p50/p99 latency at a fixed rate (bench/proxy/loadgen, open loop, latency
#     from the scheduled send time) and what the proxy adds over direct.
#
# It installs nothing. It needs wrk, nginx, haproxy, caddy and taskset:
#
#   apt-get install -y wrk nginx haproxy caddy     # taskset is in util-linux
#
# CPU split (see README.md): the proxy runs alone on CPU 1 (Go proxies with
# GOMAXPROCS=1, nginx with 1 worker, HAProxy with 1 thread); wrk and loadgen
# run on CPU 0; the backends share CPU 0 with them on a 2-CPU machine, and get
# CPUs 2.. to themselves when there are more.
#
# Environment:
#   QUICK=1       2 s runs, for a smoke test (default: 10 s runs)
#   DURATION      length of each measured run (default 10s, QUICK 2s)
#   WARMUP        length of the unmeasured wrk warm-up (default 3s, QUICK 1s)
#   RATE          fixed rate of the latency run in req/s (default 2000)
#   CONNS         wrk connections (default 64)
#   LG_CONNS      loadgen connections (default 32)
#   CONTENDERS    space-separated subset, in order (default:
#                 "direct nginx haproxy caddy reverseproxy keel");
#                 "direct" must come first for the added latency columns
#   KEEL_CONFIG   a gateway config file to use instead of the generated one
#                 (must listen on 127.0.0.1:19114, the 3 backends as upstream)
#   ROUNDS        rounds over every contender (default 1); the table shows
#                 medians and, for more than one round, ranges
#   NICE          run every process the benchmark starts under nice -n NICE;
#                 on a machine shared with other work, a negative value (as
#                 root) keeps that work from taking the benchmark's CPUs
#   OUT           results file (default bench/results/proxy.md); the raw
#                 rows of every round go next to it, in proxy.tsv
#
# Everything listens on 127.0.0.1 ports 19101-19103 (backends) and
# 19110-19115 (proxies, Keel's admin); every process it starts is stopped on
# exit.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bench="$(dirname "$here")"
repo="$(dirname "$bench")"

quick="${QUICK:-0}"
if [ "$quick" = 1 ]; then
	duration="${DURATION:-2s}"
	warmup="${WARMUP:-1s}"
else
	duration="${DURATION:-10s}"
	warmup="${WARMUP:-3s}"
fi
rate="${RATE:-2000}"
conns="${CONNS:-64}"
lg_conns="${LG_CONNS:-32}"
rounds="${ROUNDS:-1}"
prio=(env) # a no-op prefix, or nice -n NICE
if [ -n "${NICE:-}" ]; then prio=(nice -n "$NICE"); fi
case "$rounds" in '' | *[!0-9]* | 0) echo "run.sh: ROUNDS=$rounds: want a whole number >= 1" >&2 && exit 2 ;; esac
contenders="${CONTENDERS:-direct nginx haproxy caddy reverseproxy keel}"
out="${OUT:-$bench/results/proxy.md}"

backend_ports=(19101 19102 19103)
declare -A port=([nginx]=19110 [haproxy]=19111 [caddy]=19112 [reverseproxy]=19113 [keel]=19114)
keel_admin_port=19115

log() { printf 'run.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# --- tools -------------------------------------------------------------------

declare -A pkg=([wrk]=wrk [nginx]=nginx [haproxy]=haproxy [caddy]=caddy [taskset]=util-linux [go]=golang-go)
need=(wrk taskset go)
for c in $contenders; do
	case "$c" in
	direct | reverseproxy | keel) ;;
	nginx | haproxy | caddy) need+=("$c") ;;
	*) die "unknown contender $c (want direct nginx haproxy caddy reverseproxy keel)" ;;
	esac
done
# nginx and haproxy live in /usr/sbin, which a non-root PATH may lack.
PATH="$PATH:/usr/sbin:/sbin"
missing=()
for t in "${need[@]}"; do
	command -v "$t" >/dev/null 2>&1 || missing+=("${pkg[$t]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
	die "missing: ${missing[*]}; install with: apt-get install -y ${missing[*]}"
fi

# --- CPU split -----------------------------------------------------------------

ncpu="$(nproc)"
[ "$ncpu" -ge 2 ] || die "needs at least 2 CPUs (proxy on CPU 1, load on CPU 0), have $ncpu"
proxy_cpu=1
client_cpu=0
if [ "$ncpu" -gt 2 ]; then
	backend_cpus="2-$((ncpu - 1))"
	[ "$ncpu" -gt 5 ] && backend_cpus="2-4"
else
	backend_cpus=0
fi

# --- processes -----------------------------------------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/keel-proxy-bench.XXXXXX")"
chmod 755 "$tmp" # nginx's worker runs as another user and reads below it
pids=()

# stop PID...: SIGTERM, up to 5 s to exit, then SIGKILL for it and its
# children (nginx's worker).
stop() {
	local p i
	for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "$@"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$p" 2>/dev/null; then
			log "pid $p did not stop on SIGTERM; killing it"
			pkill -KILL -P "$p" 2>/dev/null || true
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
}

cleanup() {
	local rc=$?
	if [ "${#pids[@]}" -gt 0 ]; then stop "${pids[@]}"; fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# listening PORT: is anything accepting connections on 127.0.0.1:PORT?
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT PID NAME: wait up to 10 s for PID to listen on PORT.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		listening "$1" && return 0
		if ! kill -0 "$2" 2>/dev/null; then
			cat "$tmp/$3.log" >&2 || true
			die "$3 exited before listening on 127.0.0.1:$1 (log above)"
		fi
		sleep 0.1
	done
	cat "$tmp/$3.log" >&2 || true
	die "$3 is not listening on 127.0.0.1:$1 after 10 s (log above)"
}

for p in "${backend_ports[@]}" "${port[@]}" "$keel_admin_port"; do
	if listening "$p"; then die "127.0.0.1:$p is in use; stop what listens there (ss -ltnp)"; fi
done

# cpu_ticks PID: utime+stime, in clock ticks, of PID and its descendants
# (nginx's master and its worker).
cpu_ticks() {
	# A process may exit between the glob and the read: skip its file.
	awk -v root="$1" '
		BEGIN {
			for (i = 1; i < ARGC; i++) {
				if ((getline line < ARGV[i]) <= 0) continue
				close(ARGV[i])
				sub(/^[0-9]+ \(.*\) /, "", line) # the command name may hold spaces
				split(line, f, " ")
				pid = ARGV[i]; sub(/^\/proc\//, "", pid); sub(/\/stat$/, "", pid)
				parent[pid] = f[2]; ticks[pid] = f[12] + f[13]
			}
			total = 0
			for (p in ticks) {
				for (q = p; q != "" && q != 0; q = parent[q]) {
					if (q == root) { total += ticks[p]; break }
				}
			}
			print total
			exit
		}' /proc/[0-9]*/stat
}
clk_tck="$(getconf CLK_TCK)"

# --- build -----------------------------------------------------------------------

mkdir -p "$tmp/bin"
log "building backend, reverseproxy and loadgen"
(cd "$bench" && go build -o "$tmp/bin/" ./proxy/backend ./proxy/reverseproxy ./proxy/loadgen)

keel_skip=""
case " $contenders " in *" keel "*)
	log "building keel from $repo"
	if ! (cd "$repo" && go build -o "$tmp/bin/keel" ./cmd/keel) >"$tmp/keel-build.log" 2>&1; then
		keel_skip="go build ./cmd/keel failed: $(head -n 3 "$tmp/keel-build.log" | tr '\n' ' ')"
	elif ! "$tmp/bin/keel" help gateway >/dev/null 2>&1; then
		keel_skip="this keel has no gateway subcommand yet (keel help gateway failed)"
	fi
	;;
esac

# --- configs -----------------------------------------------------------------------

upstreams=""
for p in "${backend_ports[@]}"; do upstreams+="127.0.0.1:$p "; done

mkdir -p "$tmp/nginx"
{
	cat <<EOF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream bench {
EOF
	for u in $upstreams; do echo "        server $u;"; done
	cat <<EOF
        keepalive 128;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:${port[nginx]};
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
} >"$tmp/nginx/nginx.conf"

{
	cat <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    http-reuse always

frontend bench
    bind 127.0.0.1:${port[haproxy]}
    default_backend bench

backend bench
    balance roundrobin
EOF
	i=1
	for u in $upstreams; do
		echo "    server b$i $u"
		i=$((i + 1))
	done
} >"$tmp/haproxy.cfg"

mkdir -p "$tmp/caddy"
cat >"$tmp/caddy/Caddyfile" <<EOF
{
	admin off
	auto_https off
}

http://127.0.0.1:${port[caddy]} {
	reverse_proxy $upstreams{
		lb_policy round_robin
		transport http {
			keepalive 5m
			keepalive_idle_conns 512
			keepalive_idle_conns_per_host 128
		}
	}
}
EOF

# Keel with the resilience features on: retries (3 attempts within the retry
# budget), a circuit breaker per host, passive outlier detection and Prometheus
# metrics; no access log. Breakers and outlier detection are on by default;
# they are spelled out so the benchmark says what it measures.
keel_config="${KEEL_CONFIG:-$tmp/keel.yaml}"
if [ -z "${KEEL_CONFIG:-}" ]; then
	cat >"$keel_config" <<EOF
listen:
  address: 127.0.0.1:${port[keel]}
  idle_timeout: 300s
admin:
  address: 127.0.0.1:$keel_admin_port
telemetry:
  access_log: false
  metrics: true
  log_level: warn
upstreams:
  bench:
    targets: [$(echo $upstreams | sed 's/ /, /g')]
    balancer: round_robin
    max_idle_connections_per_host: 128
    breaker:
      failure_rate: 50%
      minimum_calls: 20
    outlier:
      consecutive_5xx: 5
      consecutive_connect_failures: 3
routes:
  - name: all
    match:
      path_prefix: /
    upstream: bench
    retry:
      attempts: 3
EOF
fi
if [ -z "$keel_skip" ] && "$tmp/bin/keel" help validate >/dev/null 2>&1; then
	if ! "$tmp/bin/keel" validate -c "$keel_config" >"$tmp/keel-validate.log" 2>&1; then
		keel_skip="keel validate rejected the benchmark config ($(head -n 3 "$tmp/keel-validate.log" | tr '\n' ' ')); fix it in bench/proxy/run.sh or pass KEEL_CONFIG"
	fi
fi

# --- runs ----------------------------------------------------------------------------

# start NAME CPUS CMD...: start CMD pinned to CPUS, in $tmp, output to
# $tmp/NAME.log, and set started_pid.
start() {
	local name="$1" cpus="$2"
	shift 2
	(cd "$tmp" && exec "${prio[@]}" taskset -c "$cpus" "$@" >"$tmp/$name.log" 2>&1) &
	started_pid=$!
	pids+=("$started_pid")
}

forget() { # PID: drop PID from pids after stopping it
	local keep=() p
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

backend_pids=()
for p in "${backend_ports[@]}"; do
	start "backend-$p" "$backend_cpus" env GOMAXPROCS=1 "$tmp/bin/backend" -addr "127.0.0.1:$p"
	backend_pids+=("$started_pid")
	wait_port "$p" "$started_pid" "backend-$p"
done

# start_proxy NAME: start contender NAME on the proxy CPU; sets proxy_pid.
start_proxy() {
	case "$1" in
	nginx) start nginx "$proxy_cpu" nginx -p "$tmp/nginx/" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf" ;;
	haproxy) start haproxy "$proxy_cpu" haproxy -db -f "$tmp/haproxy.cfg" ;;
	caddy) start caddy "$proxy_cpu" env GOMAXPROCS=1 HOME="$tmp/caddy" XDG_CONFIG_HOME="$tmp/caddy" \
		XDG_DATA_HOME="$tmp/caddy" caddy run --config "$tmp/caddy/Caddyfile" --adapter caddyfile ;;
	reverseproxy) start reverseproxy "$proxy_cpu" env GOMAXPROCS=1 "$tmp/bin/reverseproxy" \
		-addr "127.0.0.1:${port[reverseproxy]}" -backends "$(echo $upstreams | tr ' ' ',')" ;;
	keel) start keel "$proxy_cpu" env GOMAXPROCS=1 "$tmp/bin/keel" gateway -watch=false -c "$keel_config" ;;
	esac
	proxy_pid=$started_pid
	wait_port "${port[$1]}" "$proxy_pid" "$1"
}

# wrk_field FILE: prints "requests seconds req_per_s errors" from wrk's output.
wrk_fields() {
	awk '
		/ requests in / { n = $1; s = $4; sub(/s,$/, "", s) }
		/^Requests\/sec:/ { rps = $2 }
		/Non-2xx or 3xx responses:/ { e += $NF }
		/Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { v = $i; sub(/,/, "", v); e += v } }
		END { printf "%s %s %s %d\n", n, s, rps, e }' "$1"
}

# json_num FILE KEY: a number from loadgen's flat JSON.
json_num() { grep -o "\"$2\":[-0-9.e+]*" "$1" | head -n 1 | cut -d: -f2; }

results="$tmp/results.tsv"
: >"$results"
skipped=()

# cpu_busy N: busy time of CPU N since boot, in clock ticks (/proc/stat:
# user nice system irq softirq steal).
cpu_busy() { awk -v cpu="cpu$1" '$1 == cpu { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# measure ROUND NAME: one round of contender NAME; appends a line to $results.
measure() {
	local round="$1" c="$2" url t0 t1 b0 b1 w0 w1 l0 l1 f="$tmp/$2-$1"
	if [ "$c" = direct ]; then
		url="http://127.0.0.1:${backend_ports[0]}/"
		proxy_pid=""
	else
		start_proxy "$c"
		url="http://127.0.0.1:${port[$c]}/"
	fi
	if ! curl -fsS -o /dev/null --max-time 5 "$url" 2>"$tmp/curl.log"; then
		cat "$tmp/curl.log" >&2
		[ -n "$proxy_pid" ] && cat "$tmp/$c.log" >&2
		die "$c: GET $url failed (log above)"
	fi

	log "round $round, $c: warm-up, wrk -d$warmup"
	"${prio[@]}" taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"$warmup" "$url" >/dev/null

	log "round $round, $c: saturation, wrk -t1 -c$conns -d$duration"
	t0=0 t1=0
	[ -n "$proxy_pid" ] && t0="$(cpu_ticks "$proxy_pid")"
	b0="$(cpu_busy "$proxy_cpu")"
	w0="$EPOCHREALTIME"
	"${prio[@]}" taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"$duration" "$url" >"$f.wrk"
	w1="$EPOCHREALTIME"
	b1="$(cpu_busy "$proxy_cpu")"
	[ -n "$proxy_pid" ] && t1="$(cpu_ticks "$proxy_pid")"
	read -r wrk_n wrk_s wrk_rps wrk_err < <(wrk_fields "$f.wrk")
	if [ -z "$wrk_n" ] || [ "$wrk_n" -eq 0 ]; then
		cat "$f.wrk" >&2
		die "$c: wrk made no requests"
	fi

	log "round $round, $c: fixed rate, loadgen -rate $rate -duration $duration -connections $lg_conns"
	l0=0 l1=0
	[ -n "$proxy_pid" ] && l0="$(cpu_ticks "$proxy_pid")"
	"${prio[@]}" taskset -c "$client_cpu" "$tmp/bin/loadgen" -rate "$rate" -duration "$duration" \
		-connections "$lg_conns" -url "$url" >"$f.json"
	[ -n "$proxy_pid" ] && l1="$(cpu_ticks "$proxy_pid")"
	if grep -q '"first_error"' "$f.json"; then
		log "round $round, $c: loadgen errors: $(json_num "$f.json" errors), the first: $(sed -n 's/.*"first_error":"\(.*\)"}$/\1/p' "$f.json" | sed 's/\\"/"/g')"
	fi
	if [ "$wrk_err" -gt 0 ]; then
		log "round $round, $c: wrk errors: $(grep -E 'Non-2xx|Socket errors' "$f.wrk" | tr -s ' \n' ' ')"
	fi

	if [ -n "$proxy_pid" ]; then
		stop "$proxy_pid"
		forget "$proxy_pid"
	fi
	# The columns are named in the header of the raw file (end of the script).
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$round" \
		"$wrk_n" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')" "$wrk_rps" "$wrk_err" \
		"$((t1 - t0))" "$((b1 - b0))" \
		"$(json_num "$f.json" p50_us)" "$(json_num "$f.json" p99_us)" \
		"$(json_num "$f.json" errors)" "$(json_num "$f.json" unsent)" \
		"$([ -n "$proxy_pid" ] && echo 1 || echo 0)" \
		"$(json_num "$f.json" send_lag_p50_us)" "$(json_num "$f.json" send_lag_p99_us)" \
		"$((l1 - l0))" "$(($(json_num "$f.json" ok) + $(json_num "$f.json" errors)))" >>"$results"
}

log "CPU split: proxy on CPU $proxy_cpu; wrk and loadgen on CPU $client_cpu; backends on CPU $backend_cpus"
if [ -n "$keel_skip" ]; then
	log "skipping keel: $keel_skip"
	skipped+=("keel: $keel_skip")
fi
for ((round = 1; round <= rounds; round++)); do
	for c in $contenders; do
		[ "$c" = keel ] && [ -n "$keel_skip" ] && continue
		measure "$round" "$c"
	done
done

# --- report -------------------------------------------------------------------------

versions() {
	local v=()
	v+=("$(go env GOVERSION)")
	command -v nginx >/dev/null && v+=("$(nginx -v 2>&1 | sed 's/^nginx version: //')")
	command -v haproxy >/dev/null && v+=("HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }')")
	command -v caddy >/dev/null && v+=("Caddy $(caddy version | awk '{ print $1 }')")
	command -v wrk >/dev/null && v+=("wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')")
	local IFS=,
	echo "${v[*]}" | sed 's/,/, /g'
}

# table: the markdown table of medians over the rounds, from $results.
table() {
	awk -F'\t' -v tck="$clk_tck" -v rate="$rate" '
		function name(c) {
			if (c == "reverseproxy") return "httputil.ReverseProxy"
			if (c == "haproxy") return "HAProxy"
			if (c == "caddy") return "Caddy"
			if (c == "keel") return "Keel"
			return c
		}
		# median of the values in v[c, 1..n[c]]
		function median(v, c,    i, j, k, a, t) {
			k = n[c]
			for (i = 1; i <= k; i++) a[i] = v[c, i]
			for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		function lo(v, c,    i, m) { m = v[c, 1]; for (i = 2; i <= n[c]; i++) if (v[c, i] < m) m = v[c, i]; return m }
		function hi(v, c,    i, m) { m = v[c, 1]; for (i = 2; i <= n[c]; i++) if (v[c, i] > m) m = v[c, i]; return m }
		# med FMT V C: the median, and the range when there are several rounds
		function med(fmt, v, c) {
			if (n[c] < 2) return sprintf(fmt, median(v, c))
			return sprintf(fmt " (" fmt "–" fmt ")", median(v, c), lo(v, c), hi(v, c))
		}
		{
			c = $1
			if (!(c in n)) { order[++m] = c; n[c] = 0 }
			k = ++n[c]
			rps[c, k] = $5; err[c] += $6 + $11 + $12; proxied[c] = $13
			cpu[c, k] = $7 / tck * 1e6 / $3   # µs per request
			fixed[c, k] = $17 > 0 ? $16 / tck * 1e6 / $17 : 0
			util[c, k] = 100 * $7 / tck / $4  # % of one CPU during the wrk run
			other[c, k] = 100 * ($8 - $7) / tck / $4
			p50[c, k] = $9; p99[c, k] = $10
		}
		END {
			base = ("reverseproxy" in n) ? median(cpu, "reverseproxy") : 0
			d50 = ("direct" in n) ? median(p50, "direct") : ""
			d99 = ("direct" in n) ? median(p99, "direct") : ""
			printf "| Contender | req/s at saturation | proxy CPU | others on CPU 1 | CPU µs/req | × httputil | CPU µs/req at %s/s | p50 µs | p99 µs | added p50 µs | added p99 µs | errors |\n", rate
			print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
			for (i = 1; i <= m; i++) {
				c = order[i]
				p = proxied[c]
				ratio = (p && base > 0) ? sprintf("%.2f", median(cpu, c) / base) : "—"
				add50 = (d50 != "" && p) ? sprintf("%+.0f", median(p50, c) - d50) : "—"
				add99 = (d99 != "" && p) ? sprintf("%+.0f", median(p99, c) - d99) : "—"
				printf "| %s | %.0f | %s | %.0f%% | %s | %s | %s | %.0f | %s | %s | %s | %d |\n", name(c), median(rps, c),
					p ? sprintf("%.0f%%", median(util, c)) : "—", median(other, c),
					p ? med("%.1f", cpu, c) : "—", ratio, p ? med("%.1f", fixed, c) : "—",
					median(p50, c), med("%.0f", p99, c), add50, add99, err[c]
			}
			if (!("keel" in n)) exit
			keel = median(cpu, "keel")
			print ""
			s = "Keel against its targets:"
			if (base > 0) s = s sprintf(" CPU/req %.2f × httputil.ReverseProxy (target ≤ 1.10: %s);", keel / base, keel <= 1.1 * base ? "met" : "missed")
			if ("caddy" in n) s = s sprintf(" %.2f × Caddy (target ≤ 0.70: %s);", keel / median(cpu, "caddy"), keel <= 0.7 * median(cpu, "caddy") ? "met" : "missed")
			if (("nginx" in n) && d99 != "") {
				k99 = median(p99, "keel") - d99; n99 = median(p99, "nginx") - d99
				s = s sprintf(" added p99 %+.0f µs, nginx %+.0f µs (target ≤ nginx: %s).", k99, n99, k99 <= n99 ? "met" : "missed")
			}
			print s
		}' "$results"
}

report() {
	echo "Proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); $ncpu CPUs," \
		"$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo 'unknown CPU');" \
		"load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "$(versions)."
	if [ -z "$keel_skip" ] && [[ " $contenders " == *" keel "* ]]; then
		echo "Keel built from commit $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)."
	fi
	echo "Proxy alone on CPU $proxy_cpu (Go: GOMAXPROCS=1; nginx: 1 worker; HAProxy: 1 thread);" \
		"wrk and loadgen on CPU $client_cpu; backends on CPU $backend_cpus."
	echo "Saturation: wrk -t1 -c$conns -d$duration after a $warmup warm-up; CPU = utime+stime of the proxy's processes."
	echo "Fixed rate: loadgen -rate $rate -duration $duration -connections $lg_conns; latency from the scheduled send;" \
		"the proxy's CPU is sampled over this run too."
	if [ -n "${NICE:-}" ]; then
		echo "Every process of the benchmark ran under nice -n $NICE."
	fi
	if [ "$rounds" -gt 1 ]; then
		echo "Medians of $rounds rounds (contenders interleaved), ranges in parentheses."
	fi
	echo
	table
	for s in "${skipped[@]}"; do
		echo
		echo "Skipped $s."
	done
}

mkdir -p "$(dirname "$out")"
report | tee "$out"
{
	printf '# contender\tround\twrk requests\tsampled seconds\treq/s\twrk errors\tproxy ticks\tCPU %s busy ticks\tp50 µs\tp99 µs\tloadgen errors\tunsent\tproxied\tsend lag p50 µs\tsend lag p99 µs\tproxy ticks at fixed rate\tloadgen requests\n' "$proxy_cpu"
	cat "$results"
} >"${out%.md}.tsv"
log "results written to $out, raw rows (clock ticks of 1/$clk_tck s) to ${out%.md}.tsv"
