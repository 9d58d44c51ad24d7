"""IMAP APPEND (flags, date-time, UIDPLUS, APPENDLIMIT, quota, a 5 MiB
literal), COPY / MOVE and their UID forms with [COPYUID], UID EXPUNGE and
CHECK."""
import imaplib
import re
import time

import pytest

from conftest import run_cli
from test_imap import ALICE, BODY, PASSWORD, Raw, deliver, logged_in


def append(m, box, flags=None, date=None, body=BODY):
    return m.append(box, flags, date, body)


def test_append_flags_date_appenduid(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    date = imaplib.Time2Internaldate(time.mktime((2020, 3, 4, 5, 6, 7, 0, 0,
                                                  -1)))
    typ, data = append(m, "Drafts", r"(\Draft \Seen $Label)", date)
    assert typ == "OK"
    mt = re.match(rb"\[APPENDUID (\d+) 1\] APPEND completed", data[0])
    assert mt
    typ, status = m.status("Drafts", "(UIDVALIDITY MESSAGES UNSEEN)")
    assert f"UIDVALIDITY {mt.group(1).decode()}".encode() in status[0]
    assert b"MESSAGES 1" in status[0] and b"UNSEEN 0" in status[0]
    m.select("Drafts")
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0]
    assert b'"04-Mar-2020 ' in data[0][0]
    assert data[0][1] == BODY
    # TRYCREATE for a missing mailbox; BAD for a bad flag or date.
    typ, data = append(m, "NoSuchBox")
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        append(m, "Drafts", r"(\Recent)")
    with pytest.raises(imaplib.IMAP4.error, match="Invalid APPEND"):
        append(m, "Drafts", None, '"32-Foo-2020 00:00:00 +0000"')
    m.logout()


def test_append_to_selected_reports_exists(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    m.select("INBOX")
    typ, _ = append(m, "INBOX")
    assert typ == "OK"
    assert m.untagged_responses.get("EXISTS")[-1] == b"1"
    typ, data = m.fetch("1", "(RFC822.SIZE)")
    assert f"RFC822.SIZE {len(BODY)}".encode() in data[0]
    m.logout()


def test_append_5mib_literal(server, tls_ctx):
    line = b"x" * 1022 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * (5 * 1024)
    m = logged_in(server, tls_ctx)
    typ, data = m.append("INBOX", None, None, body)
    assert typ == "OK"
    m.select("INBOX")
    typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert data[0][1] == body
    m.logout()


def test_append_too_big_refused_before_literal(server, tls_ctx):
    raw = Raw(server, "imaps", tls_ctx)
    raw.line()
    raw.send(f"a LOGIN {ALICE} {PASSWORD}\r\n".encode())
    raw.until_tagged(b"a")
    raw.send(b"b APPEND INBOX {999999999}\r\n")
    assert raw.line() == b"b NO [TOOBIG] Message larger than APPENDLIMIT"
    raw.send(b"c NOOP\r\n")
    assert raw.line() == b"c OK NOOP completed"
    raw.close()


def test_append_over_quota(server, tls_ctx):
    run_cli("user", "set", ALICE, "quota=10K", data=server.data)
    m = logged_in(server, tls_ctx)
    typ, _ = append(m, "INBOX")
    assert typ == "OK"
    # Refused at the literal header: the bytes are never sent.
    typ, data = m.append("INBOX", None, None, b"x" * 20000)
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    # Fits the header check but not the quota with what is stored now.
    m.logout()
    run_cli("user", "set", ALICE, "quota_messages=1", data=server.data)
    m = logged_in(server, tls_ctx)
    typ, data = append(m, "INBOX")
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    m.select("INBOX")
    # COPY is refused too; MOVE does not grow the usage.
    typ, data = m.copy("1", "Archive")
    assert typ == "NO" and b"[OVERQUOTA]" in data[0]
    typ, data = m._simple_command("MOVE", "1", "Archive")
    assert typ == "OK"
    m.logout()


def test_copy_move_copyuid(server, tls_ctx):
    for _ in range(3):
        deliver(server)
    m = logged_in(server, tls_ctx)
    m.select("INBOX")
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK"
    assert re.match(rb"\[COPYUID \d+ 1:2 1:2\] COPY completed", data[0])
    typ, data = m._simple_command("UID", "COPY", "3", "Archive")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ 3 3\]", data[0])
    typ, data = m.copy("1", "Nope")
    assert typ == "NO" and b"[TRYCREATE]" in data[0]
    # MOVE: untagged OK [COPYUID], then EXPUNGE, then the tagged OK.
    typ, data = m._simple_command("MOVE", "2", "Trash")
    assert typ == "OK"
    assert re.match(rb"\[COPYUID \d+ 2 1\] Moved",
                    m.untagged_responses.pop("OK")[-1])
    assert m.untagged_responses.pop("EXPUNGE") == [b"2"]
    typ, data = m.uid("MOVE", "3", "Trash")
    assert typ == "OK"
    assert m.untagged_responses.pop("EXPUNGE") == [b"2"]
    typ, data = m.status("Archive", "(MESSAGES)")
    assert b"MESSAGES 3" in data[0]
    typ, data = m.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 2" in data[0]
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    # The copies read the same bytes.
    m.select("Archive")
    typ, data = m.fetch("3", "(BODY.PEEK[])")
    assert data[0][1].endswith(BODY)
    m.logout()


def test_uid_expunge_and_check(server, tls_ctx):
    for _ in range(3):
        deliver(server)
    m = logged_in(server, tls_ctx)
    m.select("INBOX")
    m.store("1:3", "+FLAGS.SILENT", r"(\Deleted)")
    typ, data = m._simple_command("UID", "EXPUNGE", "2")
    assert typ == "OK" and m.untagged_responses.pop("EXPUNGE") == [b"2"]
    typ, _ = m._simple_command("CHECK")
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data == [b"2"]
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    assert [re.search(rb"UID (\d+)", d).group(1) for d in data] == [b"1",
                                                                     b"3"]
    m.logout()
