"""postamt backup and postamt restore (the mission: "Mail kept on the server
can be backed up and restored"; DESIGN.md "Backups").

A backup is taken while the server runs and while mail keeps arriving;
a restore makes a new data directory from it, and a server started there
shows the same mailboxes, UIDs, flags and message bytes, finds mail by
SEARCH BODY (the full-text index is rebuilt), and takes the password.
"""
import imaplib
import os
import re
import smtplib
import threading
from pathlib import Path

from conftest import DOMAIN, Server, run_cli

USER = "alice@" + DOMAIN


def message(n, lines):
    body = "".join(f"line {i} of message {n} word{n}x\r\n" for i in range(lines))
    return (f"From: bob@remote.test\r\nTo: {USER}\r\nSubject: m{n}\r\n\r\n"
            + body)


def lines_of(n):
    """Over store_inline_max (a blob file) or kept in the index."""
    return 3000 if (n % 3 == 0 if n < 100 else n % 2) else 5


def send(server, n, lines):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=30) as s:
        s.sendmail("bob@remote.test", [USER], message(n, lines).encode())


def mailbox_state(server, tls_ctx, box):
    """{uid: (flags, bytes)} and UIDVALIDITY of box."""
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx)
    imap.login(USER, "secret-alice")
    typ, _ = imap.select(box, readonly=True)
    assert typ == "OK"
    uidvalidity = imap.response("UIDVALIDITY")[1][0]
    typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    state = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1)
            state[uid] = (sorted(flags.split()), item[1])
    imap.logout()
    return state, uidvalidity


def test_backup_while_running_then_restore(server, tls_ctx, tmp_path):
    # Kept in the index (small) and in blob files (over 64 KiB).
    for n in range(6):
        send(server, n, lines_of(n))
    imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx)
    imap.login(USER, "secret-alice")
    assert imap.create("Projects/2026")[0] == "OK"
    imap.select("INBOX")
    assert imap.uid("STORE", "2", "+FLAGS", r"(\Seen $Important)")[0] == "OK"
    assert imap.uid("COPY", "1:3", "Projects/2026")[0] == "OK"
    assert imap.uid("STORE", "5", "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert imap.expunge()[0] == "OK"
    imap.logout()

    # Deliveries go on during the backup; what it holds is one moment.
    stop = threading.Event()
    sent = []

    def deliver():
        n = 100
        while not stop.is_set():
            send(server, n, lines_of(n))
            sent.append(n)
            n += 1

    before_inbox, validity = mailbox_state(server, tls_ctx, "INBOX")
    t = threading.Thread(target=deliver)
    t.start()
    dest = tmp_path / "backup"
    try:
        res = run_cli("backup", str(dest), data=server.data)
    finally:
        stop.set()
        t.join(60)
    assert "1 users" in res.stdout, res.stdout
    assert (dest / "BACKUP").read_text().startswith("postamt-backup 1\n")
    assert not list(dest.glob("users/*/*/fts.db"))

    # A backup refuses a destination that exists.
    again = run_cli("backup", str(dest), data=server.data, check=False)
    assert again.returncode == 1 and "exists" in again.stderr

    restored = Server(tmp_path / "restored")
    res = run_cli("restore", str(dest), data=restored.data)
    assert "1 users" in res.stdout, res.stdout
    restored.start()
    try:
        inbox, rvalidity = mailbox_state(restored, tls_ctx, "INBOX")
        assert rvalidity == validity
        # Everything that was there before the backup began is there, the
        # same; what arrived during it is there whole or not at all.
        for uid, (flags, body) in before_inbox.items():
            assert inbox[uid] == (flags, body), uid
        assert 5 not in inbox
        assert [r"$Important", r"\Seen"] == sorted(
            f.decode() for f in inbox[2][0])
        for uid, (_, body) in inbox.items():
            n = int(re.search(rb"Subject: m(\d+)", body).group(1))
            assert body.endswith(message(n, lines_of(n)).encode().split(
                b"\r\n\r\n", 1)[1]), uid
        projects, _ = mailbox_state(restored, tls_ctx, "Projects/2026")
        assert sorted(b for _, b in projects.values()) == sorted(
            before_inbox[u][1] for u in (1, 2, 3))

        imap = imaplib.IMAP4_SSL("127.0.0.1", restored.port("imaps"),
                                 ssl_context=tls_ctx)
        imap.login(USER, "secret-alice")
        imap.select("INBOX", readonly=True)
        typ, data = imap.uid("SEARCH", "BODY", "word3x")
        assert typ == "OK" and data[0].split() == [b"4"], data
        imap.logout()
        # New mail goes on from the restored UIDNEXT.
        send(restored, 999, lines_of(999))
        after, _ = mailbox_state(restored, tls_ctx, "INBOX")
        assert max(after) > max(inbox)
    finally:
        assert restored.stop() in (0, None), restored.log()


def test_restore_refuses_what_is_not_a_backup(server, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    res = run_cli("restore", str(plain), data=tmp_path / "new", check=False)
    assert res.returncode == 1 and "not a backup" in res.stderr
    assert not (tmp_path / "new").exists()

    send(server, 1, lines_of(1))
    dest = tmp_path / "backup"
    run_cli("backup", str(dest), data=server.data)
    # Into a data directory that exists: refused, nothing touched.
    res = run_cli("restore", str(dest), data=server.data, check=False)
    assert res.returncode == 1 and "exists" in res.stderr
    assert (server.data / "postamt.conf").exists()

    # A damaged index in the backup is refused, not served.
    index = next(dest.glob("users/*/*/index.db"))
    raw = bytearray(index.read_bytes())
    for off in range(4096, len(raw), 4096):  # every page but the first
        raw[off:off + 64] = os.urandom(64)
    index.write_bytes(bytes(raw))
    res = run_cli("restore", str(dest), data=tmp_path / "bad", check=False)
    assert res.returncode == 1, res.stdout
    assert "damaged" in res.stderr or "malformed" in res.stderr, res.stderr
