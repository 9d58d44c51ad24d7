#!/usr/bin/env bash
# idle_memory.sh: how much server memory does one idle connection cost?
#
#   bench/idle_memory.sh [N...]          (default: 1000 10000)
#
# Starts `postamt serve` on a throw-away data directory, opens N idle IMAP
# connections (plain, then TLS) with bench/idle_conns, waits until every one
# has its greeting, and prints the growth of the server's PSS per connection.
# Also measures plain SMTP at N=1000.  Builds nothing: run `make release`
# first.  See bench/README.md for how to read the output.
#
# Environment:
#   POSTAMT      server binary     (default build/release/postamt)
#   IDLE_CONNS   client binary     (default build/release/bench/idle_conns)
#   PORT_OFFSET  first offset tried (default 30000; moved on if ports are busy)
#   RATE         connections per second (default 2000)
#   FRESH        1 (default): restart the server before every measurement,
#                so memory a previous run freed but the allocator kept is not
#                reused (on one shared server, later runs read too low, even
#                negative); 0: one server for all runs
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
POSTAMT=${POSTAMT:-$ROOT/build/release/postamt}
IDLE_CONNS=${IDLE_CONNS:-$ROOT/build/release/bench/idle_conns}
PORT_OFFSET=${PORT_OFFSET:-30000}
RATE=${RATE:-2000}
FRESH=${FRESH:-1}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)

DATA=""
SERVER_PID=""
CLIENT_PID=""
RUNS=0

die() {
	echo "idle_memory: $*" >&2
	exit 1
}

cleanup() {
	if [ -n "$CLIENT_PID" ]; then
		kill -TERM "$CLIENT_PID" 2>/dev/null || true
		wait "$CLIENT_PID" 2>/dev/null || true
	fi
	server_stop
	if [ -n "$DATA" ]; then
		rm -rf "$DATA"
	fi
}

for n in "${SIZES[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number, got '$n'"
done
[ -x "$POSTAMT" ] || die "$POSTAMT not found; run 'make release' first"
[ -x "$IDLE_CONNS" ] || die "$IDLE_CONNS not found; run 'make release' first"

# Each of the N connections is one descriptor in the server and one in the
# client (separate processes).  Try to lift the hard limit when it is too
# low (works as root), then raise the soft limit to the hard one.
max_n=$(printf '%s\n' "${SIZES[@]}" 1000 | sort -n | tail -1)
need=$((max_n + 256))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null ||
		echo "idle_memory: hard fd limit $(ulimit -Hn) < $need; large N will fail" >&2
fi
ulimit -n "$(ulimit -Hn)"

# Ports bound in LISTEN state (hex in /proc/net/tcp*), as decimal numbers.
listening_ports() {
	awk 'FNR > 1 && $4 == "0A" { split($2, a, ":"); print strtonum("0x" a[2]) }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u
}

# Picks an offset at which none of the server's standard ports is taken.
offset_pick() {
	local busy off p ok
	busy=$(listening_ports)
	for ((off = PORT_OFFSET; off <= 60000; off += 1000)); do
		ok=1
		for p in 25 587 465 143 993 110 995 80 443; do
			if grep -qx "$((p + off))" <<<"$busy"; then
				ok=0
				break
			fi
		done
		if [ "$ok" = 1 ]; then
			echo "$off"
			return 0
		fi
	done
	die "no free port offset between $PORT_OFFSET and 60000"
}

# Sets key = value in postamt.conf, replacing an existing line.
conf_set() {
	local conf=$DATA/postamt.conf key=$1 value=$2
	if grep -q "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
		sed -i "s|^[[:space:]]*${key}[[:space:]]*=.*|$key = $value|" "$conf"
	else
		printf '%s = %s\n' "$key" "$value" >>"$conf"
	fi
}

# smaps_rollup FIELD: the server's value of FIELD in kB ("" if absent).
rollup_kb() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/smaps_rollup"
}

pss_kb() {
	rollup_kb Pss
}

fd_count() {
	find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

server_alive() {
	[ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null
}

server_start() {
	"$POSTAMT" serve --data "$DATA" --port-offset "$OFFSET" \
		>>"$DATA/serve.log" 2>&1 &
	SERVER_PID=$!
	# Ready when the IMAP port greets us.
	local i
	for ((i = 0; i < 100; i++)); do
		server_alive || break
		if "$IDLE_CONNS" --host 127.0.0.1 --port $((143 + OFFSET)) \
			--count 1 --expect-greeting --hold 0 --timeout 2 \
			>/dev/null 2>&1; then
			sleep 1 # let the probe's session be torn down
			BASE_FDS=$(fd_count)
			return 0
		fi
		sleep 0.1
	done
	tail -20 "$DATA/serve.log" >&2 || true
	die "server did not greet on port $((143 + OFFSET)) within 10 s"
}

server_stop() {
	if server_alive; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		local i
		for ((i = 0; i < 100; i++)); do
			server_alive || break
			sleep 0.1
		done
		if server_alive; then
			echo "idle_memory: server did not stop within 10 s of SIGTERM; killing it" >&2
			kill -KILL "$SERVER_PID" 2>/dev/null || true
		fi
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}

# Waits (up to 30 s, at least 3 s) until the server is back to the
# descriptors it had before the run: the idle sessions are gone.
server_drain_wait() {
	local i
	sleep 3
	for ((i = 0; i < 270; i++)); do
		[ "$(fd_count)" -le "$BASE_FDS" ] && return 0
		sleep 0.1
	done
	echo "idle_memory: server still has $(($(fd_count) - BASE_FDS)) extra descriptors 30 s after the client left" >&2
}

# measure SERVICE TLS(yes|no) PORT N: one result line.
measure() {
	local svc=$1 tls=$2 port=$3 n=$4
	# One file per run: the background client truncates its file only
	# after the fork, so a reused name could show the last run's summary.
	local out=$DATA/idle_conns.$RUNS.out
	local flags=(--host 127.0.0.1 --port "$port" --count "$n"
		--expect-greeting --hold 1000000 --rate "$RATE")
	local label="service=$svc tls=$tls n=$n"
	[ "$tls" = yes ] && flags+=(--tls)
	if { [ "$FRESH" = 1 ] && [ "$RUNS" -gt 0 ]; } || ! server_alive; then
		server_stop
		server_start
	fi
	RUNS=$((RUNS + 1))
	local before after anon_before anon_after summary="" i
	before=$(pss_kb)
	anon_before=$(rollup_kb Pss_Anon)
	"$IDLE_CONNS" "${flags[@]}" >"$out" 2>&1 &
	CLIENT_PID=$!
	# Setup takes n/RATE seconds plus handshakes; allow a generous margin.
	for ((i = 0; i < (n / RATE + 120) * 10; i++)); do
		summary=$(grep -m1 '^connected=' "$out" 2>/dev/null || true)
		[ -n "$summary" ] && break
		kill -0 "$CLIENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$summary" ] || ! grep -q "greeted=$n " <<<"$summary"; then
		echo "$label error=\"not all greeted: ${summary:-no summary}\""
		grep -m3 '^idle_conns:' "$out" >&2 || true
	elif ! server_alive; then
		echo "$label error=\"server exited\""
	else
		sleep 2
		after=$(pss_kb)
		anon_after=$(rollup_kb Pss_Anon)
		local line="$label pss_before_kb=$before pss_after_kb=$after"
		line+=" per_conn_bytes=$(((after - before) * 1024 / n))"
		# Pss counts shared library pages too, whose share moves with
		# whatever else maps them (idle_conns itself maps libcrypto);
		# the anonymous part is the sessions' own memory.
		if [ -n "$anon_before" ] && [ -n "$anon_after" ]; then
			line+=" anon_before_kb=$anon_before anon_after_kb=$anon_after"
			line+=" per_conn_anon_bytes=$(((anon_after - anon_before) * 1024 / n))"
		fi
		echo "$line"
	fi
	kill -TERM "$CLIENT_PID" 2>/dev/null || true
	wait "$CLIENT_PID" 2>/dev/null || true
	CLIENT_PID=""
	if ! server_alive; then
		tail -20 "$DATA/serve.log" >&2 || true
		die "the server died (see log above)"
	fi
	server_drain_wait
}

DATA=$(mktemp -d /tmp/postamt-bench.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

"$POSTAMT" init --data "$DATA" --hostname bench.test --domain bench.test \
	>"$DATA/init.log" 2>&1 || { cat "$DATA/init.log" >&2; die "postamt init failed"; }
[ -f "$DATA/postamt.conf" ] || die "postamt init wrote no $DATA/postamt.conf"
conf_set max_connections 100000
conf_set max_connections_per_ip 100000
OFFSET=$(offset_pick)

server_start
echo "server pid=$SERVER_PID port_offset=$OFFSET baseline_pss_kb=$(pss_kb)" \
	"fd_limit=$(ulimit -n)"
for n in "${SIZES[@]}"; do
	measure imap no $((143 + OFFSET)) "$n"
	measure imap yes $((993 + OFFSET)) "$n"
done
measure smtp no $((25 + OFFSET)) 1000
