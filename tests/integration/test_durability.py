"""Crash durability of deliveries (issue 3, "Durability", "Tests").

Several smtplib senders deliver to alice at once while the server is
killed with SIGKILL at random moments; after each kill it is restarted.
At the end every message that got a 250 must be in INBOX byte for byte
(its Subject carries the SHA-256 of its body), and the index must be
consistent: STATUS counts what FETCH finds, UIDs are unique and
increasing, every row's blob reads back, and the quota usage the index
keeps equals what is there.
"""
import glob
import hashlib
import imaplib
import os
import random
import re
import smtplib
import sqlite3
import threading
import time

DELIVERIES = 1000
SENDERS = 6
USER = "alice@example.test"


def make_message(n):
    # One in eight is over store_inline_max (64 KiB): a blob file; the
    # others are kept in the index.  Both kinds must survive the kills.
    lines = 2000 if n % 8 == 0 else random.randrange(1, 40)
    body = "".join(f"line {i} of message {n} {os.urandom(6).hex()}\r\n"
                   for i in range(lines))
    digest = hashlib.sha256(body.encode()).hexdigest()
    head = (f"From: sender@remote.test\r\nTo: {USER}\r\n"
            f"Subject: n={n} h={digest}\r\n\r\n")
    return head + body


class Round:
    """Senders that deliver until the server dies or the budget is spent."""

    def __init__(self, port, budget, counter):
        self.port = port
        self.budget = budget
        self.counter = counter  # [next message number], shared
        self.lock = threading.Lock()
        self.acked = []

    def take(self):
        with self.lock:
            if self.budget <= 0:
                return None
            self.budget -= 1
            self.counter[0] += 1
            return self.counter[0]

    def send_all(self):
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as s:
                while (n := self.take()) is not None:
                    s.sendmail("sender@remote.test", [USER],
                               make_message(n).encode())
                    with self.lock:
                        self.acked.append(n)  # 250 received
        except (OSError, smtplib.SMTPException):
            pass  # the server was killed: what was acked counts

    def run(self, kill):
        threads = [threading.Thread(target=self.send_all)
                   for _ in range(SENDERS)]
        for t in threads:
            t.start()
        kill()
        for t in threads:
            t.join(30)
        return self.acked


def fetch_all(server, tls_ctx):
    """UID and body of every INBOX message, STATUS MESSAGES and UIDNEXT."""
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx)
    imap.login(USER, "secret-alice")
    typ, data = imap.status("INBOX", "(MESSAGES UIDNEXT)")
    assert typ == "OK"
    status = data[0].decode()
    typ, _ = imap.select("INBOX", readonly=True)
    assert typ == "OK"
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert typ == "OK", data
    msgs = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        msgs.append((uid, item[1]))
    imap.logout()
    count = int(re.search(r"MESSAGES (\d+)", status).group(1))
    uidnext = int(re.search(r"UIDNEXT (\d+)", status).group(1))
    return msgs, count, uidnext


def check_index(data_dir, count):
    """The index as the store keeps it: rows, blobs, quota usage."""
    paths = glob.glob(str(data_dir / "users" / "*" / "alice*" / "index.db"))
    assert len(paths) == 1, paths
    db = sqlite3.connect(f"file:{paths[0]}?mode=ro", uri=True)
    rows = db.execute("SELECT blob, size FROM messages").fetchall()
    assert len(rows) == count
    # Small messages are kept in the index (msg_data), the rest in files.
    kept = dict(db.execute("SELECT blob, length(data) FROM msg_data"))
    if count >= 16:
        assert 0 < len(kept) < count, "not both kinds of message"
    blob_dir = os.path.join(os.path.dirname(paths[0]), "blobs")
    for blob, size in rows:
        if blob in kept:
            assert kept[blob] == size
        else:
            assert os.path.getsize(os.path.join(blob_dir, blob)) == size
    used = dict(db.execute("SELECT key, value FROM meta"))
    assert used["messages"] == count
    assert used["bytes"] == sum(size for _, size in rows)
    db.close()


def test_kill_during_deliveries(server, tls_ctx):
    random.seed()
    counter = [0]
    acked = []
    rounds = 0
    deadline = time.time() + 45
    while counter[0] < DELIVERIES and time.time() < deadline:
        rounds += 1
        budget = DELIVERIES - counter[0]
        r = Round(server.port("smtp"), budget, counter)
        delay = random.uniform(0.2, 1.5)

        def kill():
            time.sleep(delay)
            server.proc.kill()  # SIGKILL: no chance to clean up
            server.proc.wait()
        acked += r.run(kill)
        server.start()
    print(f"rounds={rounds} attempted={counter[0]} acked={len(acked)}")
    assert rounds >= 2, "the server was never killed mid-delivery"
    assert len(acked) > 100, f"only {len(acked)} deliveries acknowledged"

    msgs, count, uidnext = fetch_all(server, tls_ctx)
    uids = [uid for uid, _ in msgs]
    assert uids == sorted(set(uids)), "UIDs not unique and increasing"
    assert count == len(msgs)
    assert uids == [] or uids[-1] < uidnext
    present = set()
    for uid, raw in msgs:
        head, _, body = raw.partition(b"\r\n\r\n")
        m = re.search(rb"Subject: n=(\d+) h=([0-9a-f]{64})", head)
        assert m, f"UID {uid} has no test subject"
        # Intact: the stored body is exactly what was sent.
        assert hashlib.sha256(body).hexdigest() == m.group(2).decode(), uid
        present.add(int(m.group(1)))
    lost = sorted(set(acked) - present)
    assert not lost, f"{len(lost)} acknowledged messages lost: {lost[:10]}"
    check_index(server.data, count)
