"""Multi-device sync: two sessions of one user see each other's changes.
An IDLE session is told at once (EXISTS after an APPEND or an SMTP
delivery, FETCH FLAGS, EXPUNGE); a session that is not idling hears at its
next command, but never an EXPUNGE in answer to FETCH or STORE
(RFC 9051 7.4.1); a renamed mailbox is seen by LIST."""
import re
import time

from test_imap import ALICE, BODY, PASSWORD, Raw, deliver, logged_in


def raw_selected(server, tls_ctx, box="INBOX"):
    raw = Raw(server, "imaps", tls_ctx, timeout=5)
    raw.line()
    raw.send(f"a LOGIN {ALICE} {PASSWORD}\r\n".encode())
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    raw.send(f"b SELECT {box}\r\n".encode())
    assert raw.until_tagged(b"b")[-1].startswith(b"b OK")
    return raw


def timed_line(raw, limit=1.0):
    start = time.time()
    line = raw.line()
    assert time.time() - start < limit, line
    return line


def test_idle_sees_other_sessions_changes(server, tls_ctx):
    idler = raw_selected(server, tls_ctx)
    idler.send(b"i IDLE\r\n")
    assert idler.line() == b"+ idling"
    other = logged_in(server, tls_ctx)
    assert other.append("INBOX", None, None, BODY)[0] == "OK"
    assert timed_line(idler) == b"* 1 EXISTS"
    deliver(server)
    assert timed_line(idler) == b"* 2 EXISTS"
    other.select("INBOX")
    other.store("1", "+FLAGS", r"(\Seen)")
    assert timed_line(idler) == b"* 1 FETCH (UID 1 FLAGS (\\Seen))"
    other.store("1", "+FLAGS.SILENT", r"(\Deleted)")
    assert timed_line(idler).startswith(b"* 1 FETCH (UID 1 FLAGS")
    other.expunge()
    assert timed_line(idler) == b"* 1 EXPUNGE"
    idler.send(b"DONE\r\n")
    assert idler.line() == b"i OK IDLE terminated"
    # The map followed: message 1 is now UID 2.
    idler.send(b"f FETCH 1 (UID)\r\n")
    assert idler.until_tagged(b"f")[0] == b"* 1 FETCH (UID 2)"
    idler.send(b"j IDLE\r\n")
    assert idler.line() == b"+ idling"
    idler.send(b"nonsense\r\n")
    assert idler.line() == b"j BAD Expected DONE to end IDLE"
    other.logout()
    idler.close()


def test_changes_reported_at_next_command(server, tls_ctx):
    deliver(server)
    deliver(server)
    watcher = raw_selected(server, tls_ctx)
    other = logged_in(server, tls_ctx)
    other.select("INBOX")
    other.store("1", "+FLAGS.SILENT", r"(\Deleted \Flagged)")
    other.expunge()
    other.append("INBOX", None, None, BODY)
    # FETCH may carry EXISTS and FLAGS, never EXPUNGE (RFC 9051 7.4.1).
    watcher.send(b"c FETCH 1:* (UID)\r\n")
    lines = watcher.until_tagged(b"c")
    assert not any(b"EXPUNGE" in l for l in lines), lines
    assert b"* 3 EXISTS" in lines
    assert b"* 1 FETCH (UID 1)" in lines  # still numbered the old way
    watcher.send(b"d STORE 2 +FLAGS (\\Seen)\r\n")
    lines = watcher.until_tagged(b"d")
    assert not any(b"EXPUNGE" in l for l in lines), lines
    watcher.send(b"e NOOP\r\n")
    lines = watcher.until_tagged(b"e")
    assert lines[0] == b"* 1 EXPUNGE"
    assert lines[-1] == b"e OK NOOP completed"
    watcher.send(b"f FETCH 1:* (UID FLAGS)\r\n")
    lines = watcher.until_tagged(b"f")
    assert lines[:2] == [b"* 1 FETCH (UID 2 FLAGS (\\Seen))",
                         b"* 2 FETCH (UID 3 FLAGS ())"]
    other.logout()
    watcher.close()


def test_rename_and_create_seen_by_list(server, tls_ctx):
    a = logged_in(server, tls_ctx)
    b = logged_in(server, tls_ctx)
    a.create("Projects")
    typ, data = b.list('""', "Proj*")
    assert len(data) == 1 and data[0].endswith(b'"Projects"')
    a.rename("Projects", "Done")
    typ, data = b.list('""', "*")
    names = [re.search(rb'"/" "?([^"]*)"?$', d).group(1) for d in data]
    assert b"Done" in names and b"Projects" not in names
    a.logout()
    b.logout()


def test_selected_mailbox_renamed_elsewhere(server, tls_ctx):
    deliver(server)
    a = logged_in(server, tls_ctx)
    a.create("Box")
    a.select("INBOX")
    a.copy("1", "Box")
    watcher = raw_selected(server, tls_ctx, "Box")
    a.rename("Box", "Box2")
    a.select("Box2")
    a.store("1", "+FLAGS", r"(\Flagged)")
    watcher.send(b"n NOOP\r\n")
    lines = watcher.until_tagged(b"n")
    assert lines[0] == b"* 1 FETCH (UID 1 FLAGS (\\Flagged))"
    a.logout()
    watcher.close()


def open_fds(pid):
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_idle_sessions_hold_no_database(server, tls_ctx):
    """An idling session's store handle rests (store_user_rest()): 40 IDLE
    sessions of one user cost their sockets, not three SQLite descriptors
    each; all still hear a delivery at once, and work after DONE."""
    deliver(server)
    before = open_fds(server.pid)
    idlers = []
    for i in range(40):
        raw = raw_selected(server, tls_ctx)
        raw.send(b"i IDLE\r\n")
        assert raw.line() == b"+ idling"
        idlers.append(raw)
    grown = open_fds(server.pid) - before
    # One socket each, and at most 4 resting connections of alice (x3).
    assert grown <= 40 + 12 + 4, grown
    deliver(server)
    for raw in idlers:
        assert timed_line(raw, 2.0) == b"* 2 EXISTS"
    for n, raw in enumerate(idlers[:5]):
        raw.send(b"DONE\r\n")
        assert raw.line() == b"i OK IDLE terminated"
        raw.send(f"f{n} FETCH 2 (UID FLAGS)\r\n".encode())
        assert raw.until_tagged(f"f{n}".encode())[0] == \
            b"* 2 FETCH (UID 2 FLAGS ())"
    for raw in idlers:
        raw.close()


def test_own_expunge_reported_once(server, tls_ctx):
    """EXPUNGE commits on a worker, whose commit the feed echoes to the
    session itself: its EXPUNGE (or VANISHED) lines come once, in the
    command's reply, never again at the next command; the other session
    hears them at its next command."""
    for _ in range(4):
        deliver(server)
    mine = raw_selected(server, tls_ctx)
    other = raw_selected(server, tls_ctx)
    mine.send(b"s STORE 2,3 +FLAGS.SILENT (\\Deleted)\r\n")
    assert mine.until_tagged(b"s")[-1].startswith(b"s OK")
    mine.send(b"x EXPUNGE\r\n")
    assert mine.until_tagged(b"x") == [b"* 3 EXPUNGE", b"* 2 EXPUNGE",
                                       b"x OK EXPUNGE completed"]
    mine.send(b"n NOOP\r\n")
    assert mine.until_tagged(b"n") == [b"n OK NOOP completed"]
    mine.send(b"f FETCH 1:* (UID)\r\n")
    assert mine.until_tagged(b"f")[:2] == [b"* 1 FETCH (UID 1)",
                                           b"* 2 FETCH (UID 4)"]
    other.send(b"n NOOP\r\n")
    assert other.until_tagged(b"n") == [b"* 3 EXPUNGE", b"* 2 EXPUNGE",
                                        b"n OK NOOP completed"]
    # QRESYNC: one VANISHED, in the reply only.
    other.send(b"e ENABLE QRESYNC\r\n")
    assert other.until_tagged(b"e")[-1].startswith(b"e OK")
    other.send(b"s STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
    other.until_tagged(b"s")
    other.send(b"u UID EXPUNGE 1:*\r\n")
    lines = other.until_tagged(b"u")
    assert lines[0] == b"* VANISHED 1" and lines[-1].startswith(b"u OK"), \
        lines
    other.send(b"n NOOP\r\n")
    assert other.until_tagged(b"n") == [b"n OK NOOP completed"]
    mine.close()
    other.close()
