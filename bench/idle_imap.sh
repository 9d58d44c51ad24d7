#!/usr/bin/env bash
# idle_imap.sh: N IMAP clients in IDLE on one Postamt; memory per session
# and the latency from an SMTP delivery to EXISTS at every client (issue 5:
# 10,000 clients without refusals, p99 <= 50 ms).
#
#   bench/idle_imap.sh [N...]          (default: 1000 10000)
#
# Builds a clean release server from the repository's committed state
# (git clone into a temporary directory, `make release`), starts it on a
# throw-away data directory with plaintext LOGIN allowed on loopback, runs
# bench/idle_imap against it for each N (a fresh server each time), and
# stops the server by its pid.  Only 127.0.0.1 is ever contacted.
#
# Environment:
#   POSTAMT, IDLE_IMAP  use these binaries instead of building a clone
#   MESSAGES            deliveries per run (default 20)
#   PORT_OFFSET         port offset (default 31000)
#   RATE                clients started per second (default 2000)
#   USERS               the clients' users (default 1: every client is one
#                       user's, so each delivery reaches all N; with K, each
#                       reaches N / K, as for thousands of sessions of many
#                       users)
#   SETTLE              seconds from all idling to the memory reading
#                       (default 12: past the server's memory_trim_interval)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MESSAGES=${MESSAGES:-20}
OFFSET=${PORT_OFFSET:-31000}
RATE=${RATE:-2000}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
USERS=${USERS:-1}
SETTLE=${SETTLE:-12}
USER_ADDR=idle@bench.test
[ "$USERS" -gt 1 ] && USER_ADDR='idle%d@bench.test'
PASS=idle-pass
TMP=$(mktemp -d /tmp/idle_imap.XXXXXX)
SERVER_PID=""

die() {
	echo "idle_imap: $*" >&2
	exit 1
}

server_stop() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}

cleanup() {
	server_stop
	rm -rf "$TMP"
}
trap cleanup EXIT

if [ -z "${POSTAMT:-}" ] || [ -z "${IDLE_IMAP:-}" ]; then
	git clone -q "$ROOT" "$TMP/src"
	make -C "$TMP/src" release >"$TMP/build.log" 2>&1 ||
		{ tail -30 "$TMP/build.log" >&2; die "make release failed"; }
	POSTAMT=${POSTAMT:-$TMP/src/build/release/postamt}
	IDLE_IMAP=${IDLE_IMAP:-$TMP/src/build/release/bench/idle_imap}
fi
[ -x "$POSTAMT" ] && [ -x "$IDLE_IMAP" ] || die "binaries missing"

max_n=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)
need=$((max_n * 5 + 256)) # a server session may hold several descriptors
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null ||
		echo "idle_imap: hard fd limit $(ulimit -Hn) < $need" >&2
fi
ulimit -n "$(ulimit -Hn)"

conf_set() {
	local conf=$DATA/postamt.conf
	if grep -q "^[[:space:]]*$1[[:space:]]*=" "$conf"; then
		sed -i "s|^[[:space:]]*$1[[:space:]]*=.*|$1 = $2|" "$conf"
	else
		printf '%s = %s\n' "$1" "$2" >>"$conf"
	fi
}

for n in "${SIZES[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number"
	DATA=$TMP/data.$n
	"$POSTAMT" init --data "$DATA" --hostname bench.test \
		--domain bench.test >"$TMP/init.log" 2>&1 ||
		{ cat "$TMP/init.log" >&2; die "postamt init failed"; }
	conf_set plaintext_auth_on_loopback yes
	conf_set max_connections 100000
	conf_set max_connections_per_ip 100000
	for ((u = 1; u <= USERS; u++)); do
		# shellcheck disable=SC2059 # USER_ADDR is the format
		echo "$PASS" | "$POSTAMT" user add "$(printf "$USER_ADDR" "$u")" \
			--password-stdin --data "$DATA" >/dev/null
	done
	"$POSTAMT" serve --data "$DATA" --port-offset "$OFFSET" \
		>>"$DATA/serve.log" 2>&1 &
	SERVER_PID=$!
	for ((i = 0; i < 100; i++)); do
		(exec 3<>/dev/tcp/127.0.0.1/$((143 + OFFSET))) 2>/dev/null && break
		kill -0 "$SERVER_PID" 2>/dev/null || die "server exited"
		sleep 0.1
	done
	sleep 1
	echo "== N=$n messages=$MESSAGES users=$USERS (plaintext IMAP)"
	"$IDLE_IMAP" --port $((143 + OFFSET)) --smtp-port $((25 + OFFSET)) \
		--clients "$n" --messages "$MESSAGES" --user "$USER_ADDR" \
		--users "$USERS" --settle "$SETTLE" \
		--pass "$PASS" --rate "$RATE" --server-pid "$SERVER_PID" \
		--timeout 300 || echo "idle_imap: run N=$n was not clean (status $?)"
	server_stop
done
