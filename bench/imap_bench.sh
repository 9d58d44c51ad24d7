#!/usr/bin/env bash
# imap_bench.sh: IMAP load, Postamt vs a private Dovecot, in the same run
# (issue 5's benchmark).  Uses bench/imap_load.
#
#   sudo bench/imap_bench.sh
#
# Both servers get USERS users (Postamt benchN@bench.test, Dovecot
# testuserN; password "pass") holding PRELOAD messages of 4 KiB each,
# delivered with smtp-source (SMTP into Postamt, LMTP into Dovecot).  Client i
# uses user i + 1, so each client has its own mailbox.  Then, for each MODE
# and N: imap_load against Postamt, then against Dovecot, DURATION seconds
# each, and the ratio of operations per second.  Last, the IDLE hold:
# IDLE_N_POSTAMT clients in IDLE on Postamt, IDLE_N_DOVECOT on Dovecot (its
# imap process_limit is 1000: one process per session), refusals and the
# server's PSS growth per client.
#
# Postamt runs with plaintext_auth_on_loopback = yes (plaintext LOGIN on
# 127.0.0.1), Dovecot with ssl = no.  Needs root.  Only 127.0.0.1.
#
# Environment: POSTAMT, IMAP_LOAD (binaries), PORT_OFFSET (31000), USERS
# (100), PRELOAD (100), MODES ("mixed append session"), CLIENTS ("1 10
# 100"), DURATION (10), IDLE_N_POSTAMT (10000), IDLE_N_DOVECOT (1000),
# IDLE_SETTLE (12 s: the PSS is read that long after every client idles,
# past Postamt's memory_trim_interval of 10 s, so it is what the sessions
# hold and not the login burst's peak that malloc still keeps), IDLE_HOLD
# (IDLE_SETTLE + 3 s).
set -uo pipefail

# shellcheck source=ref_servers.sh
source "$(dirname "$0")/ref_servers.sh"

IMAP_LOAD=${IMAP_LOAD:-$REF_ROOT/build/release/bench/imap_load}
USERS=${USERS:-100}
PRELOAD=${PRELOAD:-100}
MODES=${MODES:-mixed append session}
CLIENTS=${CLIENTS:-1 10 100}
DURATION=${DURATION:-10}
IDLE_N_POSTAMT=${IDLE_N_POSTAMT:-10000}
IDLE_N_DOVECOT=${IDLE_N_DOVECOT:-1000}
IDLE_SETTLE=${IDLE_SETTLE:-12}
IDLE_HOLD=${IDLE_HOLD:-$((IDLE_SETTLE + 3))}
SMTP_SOURCE=/usr/sbin/smtp-source
HZ=$(ref_hz)

[ -x "$IMAP_LOAD" ] || ref_die "$IMAP_LOAD not found; run 'make release' first"
[ -x "$SMTP_SOURCE" ] || ref_die "smtp-source missing (postfix package)"

# preload PORT USERFMT(with %d) LMTP(0|1): PRELOAD messages to users 1..USERS,
# 10 users at a time.
preload() {
	local port=$1 fmt=$2 lmtp=$3 u pids=() flags=(-s 1 -m "$PRELOAD" -l 4096
		-d -f bench@example.com -M client.example.com)
	[ "$lmtp" = 1 ] && flags+=(-L)
	# Wait for these pids only: a bare `wait` would wait for the servers.
	for ((u = 1; u <= USERS; u++)); do
		timeout 300 "$SMTP_SOURCE" "${flags[@]}" -t "${fmt/\%d/$u}" \
			"127.0.0.1:$port" &
		pids+=($!)
		if ((u % 10 == 0)); then
			wait "${pids[@]}"
			pids=()
		fi
	done
	[ ${#pids[@]} = 0 ] || wait "${pids[@]}"
}

# Sum of Pss (kB) over a process tree.
tree_pss_kb() {
	python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1]); kids = {}
for d in os.listdir('/proc'):
    if d.isdigit():
        try:
            s = open('/proc/%s/stat' % d).read()
            kids.setdefault(int(s[s.rindex(')') + 2:].split()[1]), []).append(int(d))
        except OSError:
            pass
total, todo = 0, [root]
while todo:
    p = todo.pop(); todo.extend(kids.get(p, []))
    try:
        for line in open('/proc/%d/smaps_rollup' % p):
            if line.startswith('Pss:'):
                total += int(line.split()[1])
    except OSError:
        pass
print(total)
EOF
}

# imap_run NAME PID PORT USERFMT MODE N: one imap_load run; sets OPS.
imap_run() {
	local name=$1 pid=$2 port=$3 fmt=$4 mode=$5 n=$6 out c0 c1 rc
	out=$ANCHORS/imap_load.out
	c0=$(ref_cpu_ticks "$pid")
	timeout $((DURATION + 150)) "$IMAP_LOAD" --port "$port" --mode "$mode" \
		--clients "$n" --users "$USERS" --user "$fmt" --pass pass \
		--duration "$DURATION" >"$out" 2>"$ANCHORS/imap_load.err"
	rc=$?
	c1=$(ref_cpu_ticks "$pid")
	sed "s/^/imap server=$name mode=$mode n=$n /" "$out"
	[ $rc = 0 ] || echo "imap server=$name mode=$mode n=$n FAILED (exit $rc):" \
		"$(head -c 300 "$ANCHORS/imap_load.err")"
	OPS=$(awk '/^total/ { for (i = 1; i <= NF; i++) if ($i ~ /^ops_per_s=/) { sub("ops_per_s=", "", $i); print $i } }' "$out")
	OPS=${OPS:-0}
	local ops_n
	ops_n=$(awk '/^total/ { for (i = 1; i <= NF; i++) if ($i ~ /^ops=/) { sub("ops=", "", $i); print $i } }' "$out")
	if [ "${ops_n:-0}" -gt 0 ]; then
		echo "imap server=$name mode=$mode n=$n cpu_ms_per_op=$(echo "scale=3; ($c1 - $c0) * 1000 / $HZ / $ops_n" | bc)"
	fi
	[ $rc = 0 ] || OPS=0
}

# idle_hold NAME PID PORT USERFMT N
idle_hold() {
	local name=$1 pid=$2 port=$3 fmt=$4 n=$5 before after cpid
	before=$(tree_pss_kb "$pid")
	"$IMAP_LOAD" --port "$port" --mode idle --clients "$n" --users "$USERS" \
		--user "$fmt" --pass pass --duration "$IDLE_HOLD" --timeout 120 \
		>"$ANCHORS/idle.out" 2>"$ANCHORS/idle.err" &
	cpid=$!
	# Read the memory while every client is still in IDLE.
	while kill -0 "$cpid" 2>/dev/null && ! grep -q '^idle ' "$ANCHORS/idle.out"; do
		sleep 0.2
	done
	sleep "$IDLE_SETTLE"
	after=$(tree_pss_kb "$pid")
	wait "$cpid"
	local line per=n/a
	line=$(grep '^idle ' "$ANCHORS/idle.out")
	# Memory per client only means something when all of them idled.
	[[ $line == *" idling=$n "* ]] && per=$(((after - before) * 1024 / n))
	echo "imap server=$name mode=idle-hold n=$n $line" \
		"pss_before_kb=$before pss_after_kb=$after per_client_bytes=$per"
	if [ -s "$ANCHORS/idle.err" ]; then
		echo "  first error: $(head -c 300 "$ANCHORS/idle.err")"
	fi
}

ref_init
dovecot_setup
dovecot_start
users=()
for ((u = 1; u <= USERS; u++)); do users+=("bench$u@bench.test"); done
postamt_setup "${users[@]}"
postamt_start
PA_FMT='bench%d@bench.test'
DC_FMT='testuser%d'
PA_IMAP=$((143 + PORT_OFFSET))

echo "# imap_bench: $(nproc) cores, postamt=$POSTAMT users=$USERS preload=$PRELOAD duration=${DURATION}s"
t0=$(date +%s)
preload $((25 + PORT_OFFSET)) "$PA_FMT" 0 >/dev/null
t1=$(date +%s)
preload "$DOVECOT_LMTP_PORT" 'testuser%d@bench.local' 1 >/dev/null
t2=$(date +%s)
echo "# preload: postamt $((t1 - t0)) s (SMTP), dovecot $((t2 - t1)) s (LMTP)"
# Warm both: every mailbox opened once (Dovecot builds its indexes).
DURATION=2 imap_run postamt "$POSTAMT_PID" "$PA_IMAP" "$PA_FMT" session "$USERS" >/dev/null
DURATION=2 imap_run dovecot "$DOVECOT_PID" "$DOVECOT_IMAP_PORT" "$DC_FMT" session "$USERS" >/dev/null

for mode in $MODES; do
	for n in $CLIENTS; do
		imap_run postamt "$POSTAMT_PID" "$PA_IMAP" "$PA_FMT" "$mode" "$n"
		pa=$OPS
		imap_run dovecot "$DOVECOT_PID" "$DOVECOT_IMAP_PORT" "$DC_FMT" "$mode" "$n"
		dc=$OPS
		ratio=n/a
		[ "$dc" != 0 ] && [ "$pa" != 0 ] && ratio=$(echo "scale=2; $pa / $dc" | bc)
		echo "ratio mode=$mode n=$n postamt_ops_per_s=$pa dovecot_ops_per_s=$dc postamt_over_dovecot=$ratio"
	done
done
idle_hold postamt "$POSTAMT_PID" "$PA_IMAP" "$PA_FMT" "$IDLE_N_POSTAMT"
idle_hold dovecot "$DOVECOT_PID" "$DOVECOT_IMAP_PORT" "$DC_FMT" "$IDLE_N_DOVECOT"
