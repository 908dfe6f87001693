#!/usr/bin/env bash
# services.sh starts and stops the private Redis and Postgres servers that the
# store tests (idempotency/redisstore, idempotency/pgstore) run against.
#
# Usage:
#   scripts/services.sh start   start both servers (a no-op for one already up)
#                               and print the environment to export
#   scripts/services.sh stop    stop both servers (keeps the data directory)
#   scripts/services.sh env     print the environment to export
#
#   eval "$(scripts/services.sh start)"
#   go test -race ./idempotency/redisstore ./idempotency/pgstore
#
# Both servers listen on 127.0.0.1 only, on ports of their own, so they never
# collide with a system Redis or Postgres:
#
#   KEEL_REDIS_PORT     (default 6390)  redis-server, no persistence
#   KEEL_REDIS_CLUSTER_PORTS (default "6481 6482 6483")  a three-master
#                                       Redis Cluster, no persistence
#   KEEL_POSTGRES_PORT  (default 5440)  a private cluster, superuser "keel",
#                                       trust authentication, database "keel"
#   KEEL_SERVICES_DIR   (default ${TMPDIR:-/tmp}/keel-services) data, sockets
#                                       and logs
#
# Needs the Debian packages redis-server and postgresql. Run as root, the
# Postgres cluster is created and run as the postgres user.
set -euo pipefail

redis_port="${KEEL_REDIS_PORT:-6390}"
pg_port="${KEEL_POSTGRES_PORT:-5440}"
dir="${KEEL_SERVICES_DIR:-${TMPDIR:-/tmp}/keel-services}"
redis_dir="$dir/redis"
pg_data="$dir/postgres/data"
pg_sock="$dir/postgres/socket"
pg_log="$dir/postgres/postgres.log"

cluster_ports="${KEEL_REDIS_CLUSTER_PORTS:-6481 6482 6483}"
redis_url="redis://127.0.0.1:${redis_port}/0"
cluster_addrs="$(for p in $cluster_ports; do printf '127.0.0.1:%s,' "$p"; done)"
cluster_addrs="${cluster_addrs%,}"
pg_url="postgres://keel@127.0.0.1:${pg_port}/keel?sslmode=disable"

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

print_env() {
	printf 'export KEEL_REDIS_URL=%s\n' "$redis_url"
	printf 'export KEEL_REDIS_CLUSTER_ADDRS=%s\n' "$cluster_addrs"
	printf "export KEEL_POSTGRES_URL='%s'\n" "$pg_url"
}

# as_pg runs a command as the user that owns the Postgres cluster: postgres
# when we are root (Postgres refuses to run as root), else ourselves.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && bin="$d"
	done
	if [ -z "${bin:-}" ]; then
		bin="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")"
	fi
	[ -x "$bin/pg_ctl" ] || die "pg_ctl not found: install the postgresql package"
	printf '%s\n' "$bin"
}

redis_up() {
	redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG
}

start_redis() {
	command -v redis-server >/dev/null || die "redis-server not found: install the redis-server package"
	if redis_up; then
		log "redis already running on 127.0.0.1:$redis_port"
		return
	fi
	mkdir -p "$redis_dir"
	redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize yes --dir "$redis_dir" --pidfile "$redis_dir/redis.pid" \
		--logfile "$redis_dir/redis.log" >/dev/null
	local i
	for i in $(seq 1 100); do
		redis_up && {
			log "redis started on 127.0.0.1:$redis_port"
			return
		}
		sleep 0.1
	done
	die "redis did not answer on 127.0.0.1:$redis_port; see $redis_dir/redis.log"
}

stop_redis() {
	if redis_up; then
		redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
		log "redis stopped"
	fi
}

cluster_ok() {
	redis-cli -h 127.0.0.1 -p "${cluster_ports%% *}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'
}

start_cluster() {
	if cluster_ok; then
		log "redis cluster already running on $cluster_addrs"
		return
	fi
	local p i nodes=()
	for p in $cluster_ports; do
		nodes+=("127.0.0.1:$p")
		if redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG; then
			redis-cli -h 127.0.0.1 -p "$p" info cluster 2>/dev/null | grep -q 'cluster_enabled:1' ||
				die "127.0.0.1:$p is taken by a Redis that is not a cluster node; set KEEL_REDIS_CLUSTER_PORTS"
			continue
		fi
		mkdir -p "$dir/redis-cluster/$p"
		redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
			--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
			--daemonize yes --dir "$dir/redis-cluster/$p" --pidfile "$dir/redis-cluster/$p/redis.pid" \
			--logfile "$dir/redis-cluster/$p/redis.log" >/dev/null
	done
	for p in $cluster_ports; do
		for i in $(seq 1 100); do
			redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG && break
			sleep 0.1
		done
	done
	if ! redis-cli -h 127.0.0.1 -p "${cluster_ports%% *}" cluster info 2>/dev/null | grep -q 'cluster_slots_assigned:16384'; then
		redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null ||
			die "redis cluster create failed; see $dir/redis-cluster/*/redis.log"
	fi
	for i in $(seq 1 100); do
		cluster_ok && {
			log "redis cluster started on $cluster_addrs"
			return
		}
		sleep 0.1
	done
	die "redis cluster did not reach cluster_state:ok; see $dir/redis-cluster/*/redis.log"
}

stop_cluster() {
	local p stopped=
	for p in $cluster_ports; do
		if redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG; then
			redis-cli -h 127.0.0.1 -p "$p" shutdown nosave >/dev/null 2>&1 || true
			stopped=1
		fi
	done
	# A cluster keeps its slot map in nodes.conf; without data (no
	# persistence) the next start creates it afresh.
	rm -rf "$dir/redis-cluster"
	if [ -n "$stopped" ]; then
		log "redis cluster stopped"
	fi
}

start_postgres() {
	local bin
	bin="$(pg_bin)"
	mkdir -p "$dir/postgres" "$pg_sock"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir/postgres" "$pg_sock"
	fi
	if [ ! -f "$pg_data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$pg_data" -U keel -A trust -E UTF8 --no-instructions >/dev/null
		log "postgres cluster created in $pg_data"
	fi
	if as_pg "$bin/pg_ctl" status -D "$pg_data" >/dev/null 2>&1; then
		log "postgres already running on 127.0.0.1:$pg_port"
	else
		as_pg "$bin/pg_ctl" start -w -t 60 -D "$pg_data" -l "$pg_log" \
			-o "-p $pg_port -k $pg_sock -c listen_addresses=127.0.0.1" >/dev/null ||
			die "postgres did not start; see $pg_log"
		log "postgres started on 127.0.0.1:$pg_port"
	fi
	local have
	have="$(as_pg "$bin/psql" -h "$pg_sock" -p "$pg_port" -U keel -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'keel'")"
	if [ "$have" != 1 ]; then
		as_pg "$bin/createdb" -h "$pg_sock" -p "$pg_port" -U keel keel
		log "database keel created"
	fi
}

stop_postgres() {
	local bin
	bin="$(pg_bin)"
	if [ -f "$pg_data/PG_VERSION" ] && as_pg "$bin/pg_ctl" status -D "$pg_data" >/dev/null 2>&1; then
		as_pg "$bin/pg_ctl" stop -w -m fast -D "$pg_data" >/dev/null
		log "postgres stopped"
	fi
}

case "${1:-}" in
start)
	start_redis
	start_cluster
	start_postgres
	print_env
	;;
stop)
	stop_redis
	stop_cluster
	stop_postgres
	;;
env)
	print_env
	;;
*)
	printf 'usage: %s start|stop|env\n' "$0" >&2
	exit 2
	;;
esac
