#!/usr/bin/env bash
# smtp_bench.sh: SMTP delivery rate and server CPU per message, Postamt vs a
# private Postfix, in the same run (issue 4's benchmark).
#
#   sudo bench/smtp_bench.sh
#
# Postfix's smtp-source sends MSGS messages of each SIZE at 1, 10 and 50
# concurrent sessions to
#   - Postamt: a fresh data dir per run, one user bench@bench.test, served
#     with --port-offset (SMTP on 25 + offset), log_level = warn; every
#     message is delivered into the mailbox with fsync before the 250;
#   - Postfix (private instance, REFERENCE-SERVERS.md): smtpd -> queue
#     (fsync) -> discard, on 127.0.0.1:12025.
# msgs/s = MSGS / smtp-source's wall time.  CPU = utime + stime from
# /proc/PID/stat before and after (for Postfix the master's whole process
# tree, with reaped children; read after its queue has drained, so the
# discard deliveries count too).  Postamt's count is checked over IMAPS
# (STATUS INBOX (MESSAGES)); Postfix's from its log (status=sent).
#
# Needs root and the postfix package (smtp-source; the system Postfix is
# never started).  Only 127.0.0.1.  See bench/README.md.
#
# Environment: POSTAMT (binary), PORT_OFFSET (31000), MSGS (10000),
# SIZES ("4096 102400"), SESSIONS ("1 10 50"), REUSE (0; 1 = smtp-source -d,
# many messages per connection), RUN_TIMEOUT (300 s per run).
set -uo pipefail

# shellcheck source=ref_servers.sh
source "$(dirname "$0")/ref_servers.sh"

MSGS=${MSGS:-10000}
SIZES=${SIZES:-4096 102400}
SESSIONS=${SESSIONS:-1 10 50}
REUSE=${REUSE:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SMTP_SOURCE=/usr/sbin/smtp-source
HZ=$(ref_hz)

[ -x "$SMTP_SOURCE" ] || ref_die "smtp-source missing: apt-get install postfix (see README)"

# Messages in bench@bench.test's INBOX, over IMAPS.
postamt_inbox_count() {
	python3 - $((993 + PORT_OFFSET)) <<'EOF'
import imaplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx, timeout=30)
m.login('bench@bench.test', 'pass')
typ, data = m.status('INBOX', '(MESSAGES)')
print(data[0].decode().split('MESSAGES')[1].strip(' ()'))
m.logout()
EOF
}

# smtp_send PORT RCPT SIZE SESSIONS: prints the wall time in seconds.
smtp_send() {
	local flags=(-s "$4" -m "$MSGS" -l "$3" -f bench@example.com -t "$2"
		-M client.example.com)
	[ "$REUSE" = 1 ] && flags+=(-d)
	local t0 t1
	t0=$(date +%s.%N)
	timeout "$RUN_TIMEOUT" "$SMTP_SOURCE" "${flags[@]}" "127.0.0.1:$1" ||
		echo "bench: smtp-source exited with $? (timeout or error)" >&2
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

# Prints "secs msgs_per_s cpu_ms_per_msg" from wall secs and CPU ticks.
smtp_figures() {
	python3 -c "import sys; s=float(sys.argv[1]); t=int(sys.argv[2]); m=int(sys.argv[3]); hz=int(sys.argv[4]); print('%.2f %.0f %.3f' % (s, m/s, t*1000.0/hz/m))" "$1" "$2" "$MSGS" "$HZ"
}

run_postamt() { # SIZE SESSIONS
	local c0 c1 secs stored f
	postamt_setup bench@bench.test
	postamt_start
	c0=$(ref_cpu_ticks "$POSTAMT_PID")
	secs=$(smtp_send $((25 + PORT_OFFSET)) bench@bench.test "$1" "$2")
	c1=$(ref_cpu_ticks "$POSTAMT_PID")
	stored=$(postamt_inbox_count 2>/dev/null || echo "?")
	postamt_stop
	read -r secs rate cpu <<<"$(smtp_figures "$secs" $((c1 - c0)))"
	echo "smtp server=postamt size=$1 sessions=$2 msgs=$MSGS secs=$secs" \
		"msgs_per_s=$rate cpu_ms_per_msg=$cpu stored=$stored"
	P_RATE=$rate P_CPU=$cpu
}

run_postfix() { # SIZE SESSIONS
	local c0 c1 secs sent0 sent1 left i t0 drain
	local log=$ANCHORS/postfix/log/postfix.log
	sent0=$(grep -c 'discard.*status=sent' "$log" 2>/dev/null)
	c0=$(ref_cpu_ticks "$POSTFIX_PID")
	t0=$(date +%s.%N)
	secs=$(smtp_send "$POSTFIX_SMTP_PORT" bench@bench.local "$1" "$2")
	# Let the queue drain (bounded) so the CPU includes the deliveries.
	for ((i = 0; i < 600; i++)); do
		left=$(postfix_queue_count)
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	drain=$(echo "$(date +%s.%N) - $t0" | bc -l)
	c1=$(ref_cpu_ticks "$POSTFIX_PID")
	sleep 0.5 # the log is written by postlogd, asynchronously
	sent1=$(grep -c 'discard.*status=sent' "$log" 2>/dev/null)
	read -r secs rate cpu <<<"$(smtp_figures "$secs" $((c1 - c0)))"
	echo "smtp server=postfix size=$1 sessions=$2 msgs=$MSGS secs=$secs" \
		"msgs_per_s=$rate cpu_ms_per_msg=$cpu discarded=$((sent1 - sent0))" \
		"queue_left=$left until_drained_secs=$(printf %.2f "$drain")"
	F_RATE=$rate F_CPU=$cpu
}

ref_init
postfix_setup
postfix_start
echo "# smtp_bench: $(nproc) cores, postamt=$POSTAMT msgs=$MSGS reuse=$REUSE"
for size in $SIZES; do
	for s in $SESSIONS; do
		run_postamt "$size" "$s"
		run_postfix "$size" "$s"
		echo "ratio size=$size sessions=$s" \
			"rate_postamt_over_postfix=$(echo "scale=2; $P_RATE / $F_RATE" | bc)" \
			"cpu_per_msg_postamt_over_postfix=$(echo "scale=2; $P_CPU / $F_CPU" | bc)"
	done
done
