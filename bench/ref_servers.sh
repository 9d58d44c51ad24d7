# ref_servers.sh: sourced by the side-by-side benchmarks (smtp_bench.sh,
# imap_bench.sh, pop3_bench.sh).  Sets up, starts and stops private,
# loopback-only instances of Postamt, Dovecot and Postfix under one scratch
# folder ($ANCHORS), following /work/shared/REFERENCE-SERVERS.md, and reads
# server CPU time from /proc.  Every server is stopped by its pid, never by
# name.  Needs root for Dovecot (setpriv to the dovetest user) and Postfix
# (its master runs as root); the reference servers are installed by hand on
# the benchmark machine only (see bench/README.md), never by scripts/deps.sh.
#
# Variables the caller may set first:
#   POSTAMT      Postamt binary (default build/release/postamt)
#   PORT_OFFSET  Postamt's --port-offset (default 31000)
# Set here: ANCHORS, POSTAMT_DATA, POSTAMT_PID, DOVECOT_PID, POSTFIX_PID.

REF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POSTAMT=${POSTAMT:-$REF_ROOT/build/release/postamt}
PORT_OFFSET=${PORT_OFFSET:-31000}
# Fixed loopback ports of the references (REFERENCE-SERVERS.md).
DOVECOT_IMAP_PORT=11143
DOVECOT_POP3_PORT=11110
DOVECOT_LMTP_PORT=11024
POSTFIX_SMTP_PORT=12025

ANCHORS=""
POSTAMT_DATA=""
POSTAMT_PID=""
DOVECOT_PID=""
POSTFIX_PID=""

ref_die() {
	echo "bench: $*" >&2
	exit 1
}

ref_init() {
	[ "$(id -u)" = 0 ] || ref_die "run as root (Dovecot and Postfix run privately)"
	[ -x "$POSTAMT" ] || ref_die "$POSTAMT not found; run 'make release' first"
	ANCHORS=$(mktemp -d /tmp/postamt-bench.XXXXXX)
	chmod 755 "$ANCHORS"
	trap ref_cleanup EXIT
	trap 'exit 130' INT TERM
	ulimit -n "$(ulimit -Hn)"
}

ref_cleanup() {
	postamt_stop
	dovecot_stop
	postfix_stop
	[ -n "$ANCHORS" ] && rm -rf "$ANCHORS"
	ANCHORS=""
}

# Sends SIGTERM to pid $1 and waits (up to 20 s) until it has exited.
ref_pid_stop() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "bench: pid $pid did not stop after 20 s; sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

# Waits until 127.0.0.1:$1 accepts connections (up to 15 s).
ref_port_wait() {
	local i
	for ((i = 0; i < 150; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	ref_die "nothing listens on 127.0.0.1:$1"
}

# CPU time in clock ticks of pid $1 and all its descendants, plus what its
# reaped children used (cutime + cstime): the master-and-workers servers
# (Postfix, Dovecot) reap their workers, so a difference of two readings is
# the whole tree's CPU even when workers come and go in between.
ref_cpu_ticks() {
	python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
procs = {}
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        s = open('/proc/%s/stat' % d).read()
    except OSError:
        continue
    f = s[s.rindex(')') + 2:].split()
    # after the comm: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
    procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
total = procs.get(root, (0, 0, 0))[2]
todo = [root]
while todo:
    p = todo.pop()
    if p in procs:
        total += procs[p][1]
        todo.extend(c for c, v in procs.items() if v[0] == p)
print(total)
EOF
}

ref_hz() {
	getconf CLK_TCK
}

# ref_wait_quiet PID [MAX_S]: waits until PID's process tree used under 5 %
# of a core over a second (Postamt's full-text indexer catching up after a
# preload, say), at most MAX_S seconds (120), so a run measures only itself.
ref_wait_quiet() {
	local pid=$1 max=${2:-120} hz a b
	hz=$(ref_hz)
	for ((i = 0; i < max; i++)); do
		a=$(ref_cpu_ticks "$pid")
		sleep 1
		b=$(ref_cpu_ticks "$pid")
		[ $((b - a)) -lt $((hz / 20 + 1)) ] && return 0
	done
	echo "# $pid still busy after ${max} s" >&2
}

# ---------------------------------------------------------------- Postamt

# postamt_setup USER... : a fresh data dir for domain bench.test, users with
# password "pass", logging at warn, plaintext LOGIN allowed on loopback.
postamt_setup() {
	local u
	POSTAMT_DATA=$ANCHORS/postamt
	rm -rf "$POSTAMT_DATA"
	"$POSTAMT" init --data "$POSTAMT_DATA" --hostname bench.test \
		--domain bench.test >/dev/null || ref_die "postamt init failed"
	sed -i -e 's/^log_level = .*/log_level = warn/' \
		-e 's/^plaintext_auth_on_loopback = .*/plaintext_auth_on_loopback = yes/' \
		-e 's/^max_connections_per_ip = .*/max_connections_per_ip = 20000/' \
		"$POSTAMT_DATA/postamt.conf"
	for u in "$@"; do
		echo pass | "$POSTAMT" user add "$u" --password-stdin \
			--data "$POSTAMT_DATA" >/dev/null || ref_die "user add $u failed"
	done
}

postamt_start() {
	"$POSTAMT" serve --data "$POSTAMT_DATA" --port-offset "$PORT_OFFSET" \
		2>>"$ANCHORS/postamt.log" &
	POSTAMT_PID=$!
	ref_port_wait $((143 + PORT_OFFSET))
	ref_port_wait $((25 + PORT_OFFSET))
}

postamt_stop() {
	ref_pid_stop "$POSTAMT_PID"
	[ -n "$POSTAMT_PID" ] && wait "$POSTAMT_PID" 2>/dev/null
	POSTAMT_PID=""
}

# ---------------------------------------------------------------- Dovecot

dovecot_setup() {
	local d=$ANCHORS/dovecot i
	id dovetest >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin dovetest
	mkdir -p "$d/run" "$d/state" "$d/log" "$d/mail"
	for ((i = 1; i <= 100; i++)); do echo "testuser$i:pass"; done >"$d/users"
	sed "s#\$ANCHORS#$ANCHORS#g" >"$d/dovecot.conf" <<'EOF'
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = $ANCHORS/dovecot/run
state_dir = $ANCHORS/dovecot/state
log_path = $ANCHORS/dovecot/log/dovecot.log
instance_name = dovecot-anchor
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
default_login_user = dovetest
default_internal_user = dovetest
default_internal_group = dovetest
first_valid_uid = 100
mail_uid = dovetest
mail_gid = dovetest
mail_location = maildir:$ANCHORS/dovecot/mail/%u
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $ANCHORS/dovecot/users
}
userdb {
  driver = static
  args = uid=dovetest gid=dovetest home=$ANCHORS/dovecot/mail/%u
}
mail_max_userip_connections = 15000
default_client_limit = 15000
default_process_limit = 1000
default_vsz_limit = 0
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = 11143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = 11110
  }
  inet_listener pop3s {
    port = 0
  }
}
service auth-worker {
  user = $default_internal_user
}
service imap {
  process_limit = 1000
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = 11024
  }
}
EOF
	chown -R dovetest:dovetest "$d"
}

dovecot_start() {
	local d=$ANCHORS/dovecot i
	(
		ulimit -n "$(ulimit -Hn)"
		exec setpriv --reuid=dovetest --regid=dovetest --init-groups \
			--reset-env -- /usr/sbin/dovecot -c "$d/dovecot.conf"
	) || ref_die "dovecot did not start (see $d/log/dovecot.log)"
	for ((i = 0; i < 100; i++)); do
		[ -s "$d/run/master.pid" ] && break
		sleep 0.1
	done
	DOVECOT_PID=$(cat "$d/run/master.pid" 2>/dev/null) ||
		ref_die "no dovecot master.pid"
	ref_port_wait "$DOVECOT_IMAP_PORT"
	# The first login right after start may meet "Waiting for
	# authentication process"; REFERENCE-SERVERS.md says wait ~1 s.
	sleep 1
}

dovecot_stop() {
	ref_pid_stop "$DOVECOT_PID"
	DOVECOT_PID=""
}

# ---------------------------------------------------------------- Postfix

# smtpd -> queue (fsync) -> discard, on 127.0.0.1:12025.
postfix_setup() {
	local p=$ANCHORS/postfix
	mkdir -p "$p/etc" "$p/spool" "$p/data" "$p/log"
	chown postfix:postfix "$p/data" "$p/log"
	cat >"$p/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $p/spool
data_directory = $p/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.local
mydomain = bench.local
myorigin = bench.local
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination = localhost, bench.local
local_recipient_maps =
alias_maps =
alias_database =
local_transport = discard:
default_transport = discard:
relay_transport = discard:
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_new_tls_session_rate_limit = 0
default_process_limit = 200
message_size_limit = 52428800
biff = no
maillog_file = $p/log/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $p/log
EOF
	sed -e 's/^\([a-z][-a-z]*[ \t]\+\(unix\|inet\|unix-dgram\|fifo\|pass\)[ \t]\+[-yn][ \t]\+[-yn][ \t]\+\)[-yn]/\1n/' \
		-e 's/^smtp[ \t]\+inet[ \t].*/127.0.0.1:12025 inet n - n - - smtpd/' \
		/usr/share/postfix/master.cf.dist >"$p/etc/master.cf"
	postfix -c "$p/etc" post-install create-missing >/dev/null 2>&1 ||
		postfix -c "$p/etc" check || ref_die "postfix setup failed"
}

postfix_start() {
	local p=$ANCHORS/postfix i
	postfix -c "$p/etc" start >/dev/null 2>&1 ||
		ref_die "postfix did not start (see $p/log/postfix.log)"
	for ((i = 0; i < 100; i++)); do
		[ -s "$p/spool/pid/master.pid" ] && break
		sleep 0.1
	done
	POSTFIX_PID=$(tr -d ' \n' <"$p/spool/pid/master.pid") ||
		ref_die "no postfix master.pid"
	ref_port_wait "$POSTFIX_SMTP_PORT"
}

postfix_stop() {
	ref_pid_stop "$POSTFIX_PID"
	POSTFIX_PID=""
}

# Messages still in Postfix's queue (incoming, active, deferred).
postfix_queue_count() {
	find "$ANCHORS/postfix/spool/incoming" "$ANCHORS/postfix/spool/active" \
		"$ANCHORS/postfix/spool/deferred" -type f 2>/dev/null | wc -l
}
