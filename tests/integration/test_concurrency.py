"""Several IMAP sessions of one user changing one mailbox at once (issue 3,
"Concurrency tests"): one appends, one changes flags, one expunges, while
an IDLE session follows the change feed.

The IDLE session keeps its own sequence-number -> UID map from the
untagged responses alone (EXISTS, EXPUNGE, FETCH with UID).  That map only
stays right if the feed reaches the session in commit order: a FETCH for
a UID at the wrong sequence number, or an EXISTS count that does not add
up, fails the test.  At the end every session sees the same messages with
the same flags as a fresh one.
"""
import imaplib
import queue
import random
import re
import socket
import threading
import time

USER, PASSWORD = "alice@example.test", "secret-alice"
START = 30
APPENDS = 40


def login(server, tls_ctx):
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx)
    imap.login(USER, PASSWORD)
    return imap


def message(n):
    return (f"From: a@example.test\r\nSubject: c{n}\r\n\r\n"
            f"body {n}\r\n").encode()


def uid_map(imap):
    """The session's current UIDs in sequence order."""
    typ, data = imap.fetch("1:*", "(UID)")
    assert typ == "OK", data
    uids = []
    for line in data:
        if line is None:
            continue
        m = re.match(rb"(\d+) \(UID (\d+)\)", line)
        if m:
            assert int(m.group(1)) == len(uids) + 1
            uids.append(int(m.group(2)))
    return uids


class Idler:
    """A raw IMAPS session in IDLE that applies every untagged response."""

    def __init__(self, server, tls_ctx):
        raw = socket.create_connection(("127.0.0.1", server.port("imaps")),
                                       10)
        self.sock = tls_ctx.wrap_socket(raw)
        self.sock.settimeout(None)
        self.lines = queue.Queue()
        threading.Thread(target=self.reader, daemon=True).start()
        self.readline()  # greeting
        self.cmd(f"a LOGIN {USER} {PASSWORD}")
        self.cmd("b SELECT INBOX")
        self.uids = self.fetch_uids()
        self.unknown = 0  # messages announced by EXISTS, UID not known yet
        self.errors = []

    def reader(self):
        f = self.sock.makefile("rb")
        while line := f.readline():
            self.lines.put(line)
        self.lines.put(b"")

    def readline(self, timeout=10):
        return self.lines.get(timeout=timeout)

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        tag = line.split()[0].encode()
        lines = []
        while True:
            resp = self.readline()
            assert resp, "connection closed"
            lines.append(resp)
            if resp.startswith(tag + b" "):
                assert resp.split()[1] == b"OK", resp
                return lines

    def fetch_uids(self):
        uids = []
        for line in self.cmd("c FETCH 1:* (UID)"):
            m = re.match(rb"\* (\d+) FETCH \(UID (\d+)\)", line)
            if m:
                uids.append(int(m.group(2)))
        return uids

    def apply(self, line):
        if m := re.match(rb"\* (\d+) EXISTS", line):
            n = int(m.group(1))
            if n < len(self.uids) + self.unknown:
                self.errors.append(f"EXISTS {n} shrinks the mailbox")
            self.unknown = n - len(self.uids)
        elif m := re.match(rb"\* (\d+) EXPUNGE", line):
            seq = int(m.group(1))
            if 1 <= seq <= len(self.uids):
                del self.uids[seq - 1]
            elif seq <= len(self.uids) + self.unknown:
                self.unknown -= 1  # announced, then expunged
            else:
                self.errors.append(f"EXPUNGE {seq} out of range")
        elif m := re.match(rb"\* (\d+) FETCH \(.*UID (\d+)", line):
            seq, uid = int(m.group(1)), int(m.group(2))
            if seq <= len(self.uids) and self.uids[seq - 1] != uid:
                self.errors.append(f"FETCH {seq} names UID {uid}, "
                                   f"map has {self.uids[seq - 1]}")

    def idle_until_done(self, stop):
        self.sock.sendall(b"i IDLE\r\n")
        assert self.readline().startswith(b"+")
        while True:
            try:
                line = self.readline(0.2)
            except queue.Empty:
                if stop.is_set():
                    break
                continue
            assert line, "connection closed"
            self.apply(line)
            # New UIDs are learnt between IDLEs, as a client does.
            if self.unknown:
                break
        self.sock.sendall(b"DONE\r\n")
        while not (line := self.readline()).startswith(b"i "):
            self.apply(line)
        if self.unknown:
            known = self.uids
            self.uids = self.fetch_uids()
            if self.uids[:len(known)] != known:
                self.errors.append("new messages not after the old ones")
            self.unknown = 0


def appender(server, tls_ctx):
    imap = login(server, tls_ctx)
    for n in range(APPENDS):
        typ, data = imap.append("INBOX", None, None, message(1000 + n))
        assert typ == "OK", data
    imap.logout()


def flagger(server, tls_ctx, stop):
    imap = login(server, tls_ctx)
    imap.select("INBOX")
    while not stop.is_set():
        uids = uid_map(imap)
        if uids:
            uid = random.choice(uids)
            flag = random.choice(["\\Seen", "\\Flagged", "\\Answered"])
            op = random.choice(["+FLAGS", "-FLAGS"])
            typ, data = imap.uid("STORE", str(uid), op, flag)
            assert typ == "OK", data
    imap.logout()


def expunger(server, tls_ctx):
    imap = login(server, tls_ctx)
    imap.select("INBOX")
    for _ in range(10):
        uids = uid_map(imap)
        victims = random.sample(uids, min(2, len(uids)))
        if victims:
            imap.uid("STORE", ",".join(map(str, victims)), "+FLAGS",
                     "\\Deleted")
            typ, data = imap.expunge()
            assert typ == "OK", data
        time.sleep(0.05)
    imap.logout()


def flags_of(imap):
    typ, data = imap.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK"
    return sorted(line for line in data if line)


def test_sessions_change_one_mailbox(server, tls_ctx):
    setup = login(server, tls_ctx)
    for n in range(START):
        setup.append("INBOX", None, None, message(n))
    idler = Idler(server, tls_ctx)
    stop = threading.Event()
    errors = []

    def guard(fn, *args):
        try:
            fn(*args)
        except Exception as e:  # reported in the main thread
            errors.append(repr(e))

    workers = [threading.Thread(target=guard, args=(appender, server,
                                                    tls_ctx)),
               threading.Thread(target=guard, args=(expunger, server,
                                                    tls_ctx)),
               threading.Thread(target=guard, args=(flagger, server, tls_ctx,
                                                    stop))]
    for w in workers:
        w.start()
    done = threading.Event()

    def finish():
        workers[0].join(60)
        workers[1].join(60)
        stop.set()
        workers[2].join(60)
        done.set()
    threading.Thread(target=finish).start()
    while not done.is_set():
        idler.idle_until_done(done)
    idler.idle_until_done(done)  # whatever came last
    assert not errors, errors
    assert not idler.errors, idler.errors[:5]

    # Everyone agrees with a fresh session: same UIDs, same flags.
    fresh = login(server, tls_ctx)
    fresh.select("INBOX")
    final = uid_map(fresh)
    assert idler.uids == final
    # Each expunge round removed up to two messages.
    assert START + APPENDS - 20 <= len(final) < START + APPENDS
    setup.select("INBOX")
    setup.noop()
    assert flags_of(setup) == flags_of(fresh)
    for imap in (setup, fresh):
        imap.logout()
