#!/bin/sh
# clickhouse-test.sh manages the throwaway ClickHouse server that the
# ClickHouse event store tests (internal/store/clickhouse) and benchmarks
# use. The Go tests start their own server (TestMain) and need only the
# binary; this script is for installing it and for poking at a server by hand.
#
#   scripts/clickhouse-test.sh install       apt-get install Debian's clickhouse-server and clickhouse-client
#   scripts/clickhouse-test.sh start DIR     start a server with its config and data under DIR (HTTP port in DIR/http_port)
#   scripts/clickhouse-test.sh stop DIR      stop it (SIGTERM to DIR/pid) and wait for it to exit
#
# Ports: MAMORI_CH_HTTP_PORT (default 18123), MAMORI_CH_TCP_PORT (19000),
# MAMORI_CH_INTERSERVER_PORT (19009), all on 127.0.0.1.
set -eu

server() {
	for b in "${MAMORI_CLICKHOUSE_SERVER:-}" /usr/bin/clickhouse-server /usr/sbin/clickhouse-server; do
		if [ -n "$b" ] && [ -x "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	command -v clickhouse-server || return 1
}

case "${1:-}" in
install)
	if server >/dev/null 2>&1; then
		echo "clickhouse-server: $(server)"
		exit 0
	fi
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends clickhouse-server clickhouse-client
	echo "clickhouse-server: $(server)"
	;;
start)
	dir=${2:?usage: $0 start DIR}
	bin=$(server) || { echo "clickhouse-server not found: run $0 install" >&2; exit 1; }
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data="$dir/data"
	http=${MAMORI_CH_HTTP_PORT:-18123}
	mkdir -p "$data/log" "$data/tmp" "$data/user_files" "$data/format_schemas"
	cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>$data/log/server.log</log><errorlog>$data/log/err.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port><tcp_port>${MAMORI_CH_TCP_PORT:-19000}</tcp_port><interserver_http_port>${MAMORI_CH_INTERSERVER_PORT:-19009}</interserver_http_port>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$data/</path><tmp_path>$data/tmp/</tmp_path><user_files_path>$data/user_files/</user_files_path>
  <format_schema_path>$data/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mlock_executable>false</mlock_executable>
</yandex>
XML
	cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
	"$bin" --config-file="$dir/config.xml" >"$data/log/stdout.log" 2>&1 &
	echo $! >"$dir/pid"
	echo "$http" >"$dir/http_port"
	i=0
	until [ "$(curl -s "http://127.0.0.1:$http/ping" 2>/dev/null)" = "Ok." ]; do
		i=$((i + 1))
		if [ $i -gt 150 ]; then
			echo "clickhouse-server did not answer /ping in 15 s; see $data/log/err.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "clickhouse-server pid $(cat "$dir/pid") at http://127.0.0.1:$http/"
	;;
stop)
	dir=${2:?usage: $0 stop DIR}
	[ -f "$dir/pid" ] || { echo "no $dir/pid" >&2; exit 1; }
	pid=$(cat "$dir/pid")
	kill -TERM "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 300 ] && { echo "clickhouse-server $pid still running after 30 s" >&2; exit 1; }
		sleep 0.1
	done
	rm -f "$dir/pid"
	;;
*)
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
	;;
esac
