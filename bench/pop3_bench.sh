#!/usr/bin/env bash
# pop3_bench.sh: POP3 download and sessions, Postamt vs a private Dovecot, in
# the same run (issue 6's benchmark).  Uses bench/pop3_download.
#
#   sudo bench/pop3_bench.sh
#
# 1. One maildrop of MSGS messages of mixed sizes (1% 1 MiB, 9% 256 KiB, 30%
#    64 KiB, 60% 4 KiB bodies) for Postamt's pop1@bench.test (over SMTP) and
#    Dovecot's testuser1 (over LMTP), both sent by smtp-source.
# 2. Download: USER/PASS, LIST, RETR of every message (8 pipelined), QUIT
#    without DELE; twice per server (the first run also warms caches and
#    Dovecot's index), MB/s and server CPU time.  Then only the messages of
#    1 MiB and more (the large-message bandwidth).
# 3. Sessions/s: connect, USER, PASS, STAT, QUIT in a loop, with 1 and 10
#    clients (users 2..11, each holding 10 small messages), DURATION s each.
#
# Needs root.  Only 127.0.0.1.
#
# Environment: POSTAMT, POP3_DOWNLOAD, POP3_STREAM (binaries), PORT_OFFSET (31000), MSGS
# (10000), DURATION (10), SESSION_CLIENTS ("1 10").
set -uo pipefail

# shellcheck source=ref_servers.sh
source "$(dirname "$0")/ref_servers.sh"

POP3_DOWNLOAD=${POP3_DOWNLOAD:-$REF_ROOT/build/release/bench/pop3_download}
POP3_STREAM=${POP3_STREAM:-$REF_ROOT/build/release/bench/pop3_stream}
MSGS=${MSGS:-10000}
DURATION=${DURATION:-10}
SESSION_CLIENTS=${SESSION_CLIENTS:-1 10}
SMTP_SOURCE=/usr/sbin/smtp-source
HZ=$(ref_hz)

[ -x "$POP3_DOWNLOAD" ] || ref_die "$POP3_DOWNLOAD not found; run 'make release' first"
[ -x "$SMTP_SOURCE" ] || ref_die "smtp-source missing (postfix package)"

# fill PORT RCPT LMTP(0|1): the mixed-size maildrop, 10 sessions per class.
fill() {
	local port=$1 rcpt=$2 flags=(-s 10 -d -f bench@example.com
		-M client.example.com -t "$2")
	[ "$3" = 1 ] && flags+=(-L)
	local n1m=$((MSGS / 100)) n256=$((MSGS * 9 / 100)) n64=$((MSGS * 30 / 100))
	local n4=$((MSGS - n1m - n256 - n64)) spec
	for spec in "$n1m 1048576" "$n256 262144" "$n64 65536" "$n4 4096"; do
		set -- $spec
		[ "$1" -gt 0 ] || continue
		timeout 900 "$SMTP_SOURCE" "${flags[@]}" -m "$1" -l "$2" \
			"127.0.0.1:$port" || echo "bench: fill $rcpt: exit $?" >&2
	done
	for ((u = 2; u <= 11; u++)); do
		timeout 60 "$SMTP_SOURCE" -s 1 -d -m 10 -l 4096 -f bench@example.com \
			-M client.example.com -t "${rcpt/1@/$u@}" \
			"${flags[@]:9}" "127.0.0.1:$port"
	done
}

# pop_run NAME PID PORT USERFMT LABEL ARGS...: one pop3_download run.
pop_run() {
	local name=$1 pid=$2 port=$3 fmt=$4 label=$5 c0 c1 out summary
	shift 5
	out=$ANCHORS/pop.out
	c0=$(ref_cpu_ticks "$pid")
	timeout 900 "$POP3_DOWNLOAD" --port "$port" --user "$fmt" --pass pass \
		"$@" >"$out" 2>"$ANCHORS/pop.err" ||
		echo "pop3 server=$name run=$label FAILED: $(head -c 300 "$ANCHORS/pop.err")"
	c1=$(ref_cpu_ticks "$pid")
	summary=$(tr '\n' ' ' <"$out")
	echo "pop3 server=$name run=$label $summary server_cpu_s=$(echo "scale=2; ($c1 - $c0) / $HZ" | bc)"
	VALUE=$(grep -o "${VALUE_KEY}=[0-9.]*" "$out" | head -1 | cut -d= -f2)
	VALUE=${VALUE:-0}
}

ratio() {
	if [ "$2" != 0 ] && [ "$1" != 0 ]; then echo "scale=2; $1 / $2" | bc; else echo n/a; fi
}

ref_init
dovecot_setup
dovecot_start
postamt_setup pop{1..11}@bench.test
postamt_start
PA=(postamt "$POSTAMT_PID" $((110 + PORT_OFFSET)) 'pop%d@bench.test')
DC=(dovecot "$DOVECOT_PID" "$DOVECOT_POP3_PORT" 'testuser%d')

echo "# pop3_bench: $(nproc) cores, postamt=$POSTAMT msgs=$MSGS"
t0=$(date +%s)
fill $((25 + PORT_OFFSET)) pop1@bench.test 0 >/dev/null
t1=$(date +%s)
fill "$DOVECOT_LMTP_PORT" testuser1@bench.local 1 >/dev/null
t2=$(date +%s)
echo "# preload: postamt $((t1 - t0)) s (SMTP), dovecot $((t2 - t1)) s (LMTP)"
t3=$(date +%s)
ref_wait_quiet "$POSTAMT_PID"
ref_wait_quiet "$DOVECOT_PID"
echo "# both servers quiet after $(($(date +%s) - t3)) s more (indexing)"

VALUE_KEY=MB_per_s
for run in cold warm; do
	pop_run "${PA[@]}" "download-$run" --mode download
	pa=$VALUE
	pop_run "${DC[@]}" "download-$run" --mode download
	echo "ratio pop3 download-$run MB_per_s postamt_over_dovecot=$(ratio "$pa" "$VALUE")"
done
pop_run "${PA[@]}" download-1MiB --mode download --min-size 1000000
pa=$VALUE
pop_run "${DC[@]}" download-1MiB --mode download --min-size 1000000
echo "ratio pop3 download-1MiB MB_per_s postamt_over_dovecot=$(ratio "$pa" "$VALUE")"

# Issue 6's "half of loopback bandwidth for large messages": the 1 MiB
# messages with pop3_stream's lean reader (pop3_download is the limit
# there), each next to loopback itself (sendfile -> recv of 200 MiB).
head -c $((200 << 20)) /dev/zero >"$ANCHORS/loopback.bin"
for i in 1 2 3; do
	lo=$("$POP3_STREAM" --loopback "$ANCHORS/loopback.bin")
	pa=$("$POP3_STREAM" --port $((110 + PORT_OFFSET)) --user pop1@bench.test)
	dc=$("$POP3_STREAM" --port "$DOVECOT_POP3_PORT" --user testuser1)
	echo "$lo"
	echo "postamt $pa"
	echo "dovecot $dc"
	lo=${lo##*MB_per_s=} pa=${pa##*MB_per_s=} dc=${dc##*MB_per_s=}
	echo "ratio pop3 stream-1MiB run=$i postamt_over_loopback=$(ratio "$pa" "$lo") dovecot_over_loopback=$(ratio "$dc" "$lo")"
done
rm -f "$ANCHORS/loopback.bin"

VALUE_KEY=ops_per_s
for n in $SESSION_CLIENTS; do
	pop_run "${PA[@]}" "sessions-n$n" --mode sessions --first 2 --clients "$n" \
		--duration "$DURATION"
	pa=$VALUE
	pop_run "${DC[@]}" "sessions-n$n" --mode sessions --first 2 --clients "$n" \
		--duration "$DURATION"
	echo "ratio pop3 sessions n=$n sessions_per_s postamt_over_dovecot=$(ratio "$pa" "$VALUE")"
done
