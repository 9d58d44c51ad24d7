"""IMAP sessions: capabilities and the TLS requirement on 143, STARTTLS,
IMAPS logins, SELECT/FETCH/STORE/EXPUNGE on a message delivered over SMTP,
and the protocol's answers to bad input (unknown commands, too-long lines,
oversized literals, error floods).

Clients are imaplib where it can express the case, a raw socket where the
case is about bytes on the wire.  Mail gets into the INBOX only through
SMTP, as in production.
"""
import base64
import imaplib
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, LineClient

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"
BODY = (
    "From: Bob <bob@remote.example>\r\n"
    f"To: Alice <{ALICE}>\r\n"
    "Subject: imap test\r\n"
    "\r\n"
    "Hello Alice,\r\n"
    "this is the body.\r\n"
).encode()


def deliver(server, data=BODY, timeout=20):
    """Sends data to alice over SMTP, retrying until SMTP answers."""
    deadline = time.time() + timeout
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", server.port("smtp"),
                              timeout=10) as smtp:
                smtp.sendmail("bob@remote.example", [ALICE], data)
            return
        except (OSError, smtplib.SMTPException):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def imaps(server, tls_ctx):
    return imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx, timeout=10)


def logged_in(server, tls_ctx):
    m = imaps(server, tls_ctx)
    m.login(ALICE, PASSWORD)
    return m


class Raw(LineClient):
    """A line-oriented raw IMAP client (plain or TLS); lines are bytes."""

    def __init__(self, server, service="imap", tls_ctx=None, timeout=10):
        super().__init__(server.port(service), tls_ctx, timeout)

    line = LineClient.raw_line

    def until_tagged(self, tag):
        """Lines up to and including the one that starts with tag."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def is_closed(self):
        return self.closed()


def test_greeting_and_capabilities_before_tls(server):
    m = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=10)
    caps = m.capabilities
    assert "IMAP4REV2" in caps and "IMAP4REV1" in caps
    assert "STARTTLS" in caps and "LOGINDISABLED" in caps
    assert "AUTH=PLAIN" not in caps
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        m.login(ALICE, PASSWORD)
    m.logout()


def test_authenticate_refused_before_tls(server):
    raw = Raw(server)
    assert raw.line().startswith(b"* OK [CAPABILITY ")
    ir = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    raw.send(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
    assert raw.line() == b"a NO [PRIVACYREQUIRED] TLS is required to log in"
    raw.close()


def test_starttls_then_login(server, tls_ctx):
    m = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=10)
    m.starttls(ssl_context=tls_ctx)
    caps = m.capabilities
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
    assert "AUTH=PLAIN" in caps
    typ, _ = m.login(ALICE, PASSWORD)
    assert typ == "OK"
    m.logout()


def test_imaps_login_good_and_bad(server, tls_ctx):
    m = imaps(server, tls_ctx)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(ALICE, "wrong-password")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login("nobody@" + DOMAIN, PASSWORD)
    typ, data = m.login(ALICE, PASSWORD)
    assert typ == "OK"
    typ, data = m.logout()
    assert typ == "BYE"


def test_authenticate_plain_with_and_without_ir(server, tls_ctx):
    m = imaps(server, tls_ctx)
    # imaplib waits for "+ " and answers: the continuation path.
    typ, _ = m.authenticate("PLAIN",
                            lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
    assert typ == "OK"
    m.logout()
    raw = Raw(server, "imaps", tls_ctx)
    raw.line()
    ir = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode())
    raw.send(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
    assert raw.line().startswith(b"a OK ")
    raw.send(b"b LOGOUT\r\n")
    assert raw.until_tagged(b"b")[-1].startswith(b"b OK")
    raw.close()


def test_select_fetch_store_expunge(server, tls_ctx):
    deliver(server)
    m = logged_in(server, tls_ctx)
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    assert m.untagged_responses.get("UIDVALIDITY")

    # BODY.PEEK does not set \Seen.
    typ, data = m.fetch("1", "(FLAGS BODY.PEEK[])")
    assert typ == "OK" and b"\\Seen" not in data[0][0]
    assert data[0][1].endswith(BODY)

    # BODY[] returns the message byte-exact and sets \Seen.
    typ, data = m.fetch("1", "(BODY[])")
    assert typ == "OK"
    fetched = data[0][1]
    assert fetched.endswith(BODY)
    assert fetched.startswith(b"Return-Path:") or b"Received:" in fetched
    typ, data = m.fetch("1", "(FLAGS RFC822.SIZE)")
    assert b"\\Seen" in data[0]
    assert f"RFC822.SIZE {len(fetched)}".encode() in data[0]

    # Sections and partial fetches.
    typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
    assert data[0][1] == b"Hello Alice,\r\nthis is the body.\r\n"
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER])")
    assert data[0][1].endswith(b"Subject: imap test\r\n\r\n")
    typ, data = m.fetch("1", "(BODY.PEEK[]<0.11>)")
    assert data[0][0].endswith(b"BODY[]<0> {11}")
    assert data[0][1] == fetched[:11]

    # UID FETCH always reports the UID.
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK"
    uid = re.search(rb"UID (\d+)", data[0]).group(1)
    typ, data = m.uid("FETCH", uid, "(INTERNALDATE)")
    assert re.search(rb'INTERNALDATE "\d\d-\w{3}-\d{4} ', data[0])

    typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0] and b"\\Seen" in data[0]
    typ, data = m.store("1", "-FLAGS", "(\\Flagged)")
    assert b"\\Flagged" not in data[0]

    typ, data = m.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    assert typ == "OK"
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"]
    typ, data = m.select("INBOX")
    assert data == [b"0"]
    m.logout()


def test_bad_sequence_numbers(server, tls_ctx):
    deliver(server)
    raw = Raw(server, "imaps", tls_ctx)
    raw.line()
    raw.send(f"a LOGIN {ALICE} {PASSWORD}\r\nb SELECT inbox\r\n".encode())
    assert raw.until_tagged(b"b")[-1].startswith(b"b OK [READ-WRITE]")
    raw.send(b"c FETCH 0 FLAGS\r\n")
    assert raw.line() == b"c BAD Invalid sequence number"
    raw.send(b"d FETCH 5 FLAGS\r\n")
    assert raw.line().startswith(b"d NO ")
    raw.send(b"e UID FETCH 999 FLAGS\r\n")
    assert raw.line().startswith(b"e OK")
    raw.send(b"f FETCH 1 NOSUCHITEM\r\n")
    assert raw.line().startswith(b"f BAD")
    raw.close()


def test_examine_is_read_only(server, tls_ctx):
    deliver(server)
    m = logged_in(server, tls_ctx)
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK"
    m.fetch("1", "(BODY[])")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    # imaplib returns NO (it raises only for BAD).
    typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "NO" and data == [b"[READ-ONLY] Mailbox is read-only"]
    m.logout()


def test_list_status_unselect(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m.list()
    assert typ == "OK"
    names = [d.rsplit(b" ", 1)[1].strip(b'"') for d in data]
    assert sorted(names) == [b"Archive", b"Drafts", b"INBOX", b"Junk",
                             b"Sent", b"Trash"]
    typ, data = m.list('""', "%a%")
    assert len(data) == 2  # Drafts, Trash
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UNSEEN)")
    assert typ == "OK" and b"MESSAGES 0" in data[0]
    m.select("Sent")
    typ, _ = m.unselect()
    assert typ == "OK"
    typ, data = m.select("NoSuchBox")
    assert typ == "NO" and data == [b"[NONEXISTENT] No such mailbox"]
    m.logout()


def test_unknown_command_and_wrong_state(server):
    raw = Raw(server)
    raw.line()
    raw.send(b"a FROBNICATE\r\nb FETCH 1 FLAGS\r\nc LOGIN\r\n"
             b"d CAPABILITY\r\n")
    assert raw.line() == b"a BAD Unknown command"
    assert raw.line() == b"b BAD Command not allowed now"
    assert raw.line() == b"c BAD Missing arguments"
    assert raw.line().startswith(b"* CAPABILITY IMAP4rev2")
    assert raw.line() == b"d OK CAPABILITY completed"
    raw.close()


def test_too_long_line(server):
    raw = Raw(server)
    raw.line()
    raw.send(b"a NOOP " + b"x" * (64 * 1024 + 100) + b"\r\n")
    assert raw.line() == b"* BAD [TOOBIG] Line too long"
    assert raw.is_closed()


def test_literal_too_big(server, tls_ctx):
    raw = Raw(server, "imaps", tls_ctx)
    raw.line()
    raw.send(b"a LOGIN {999999999999}\r\n")
    assert raw.line() == b"a BAD [TOOBIG] Literal too big"
    # A synchronizing literal was never sent: the session goes on.
    raw.send(b"b NOOP\r\n")
    assert raw.line() == b"b OK NOOP completed"
    raw.send(b"c LOGIN {999999999999+}\r\n")
    assert raw.line() == b"c BAD [TOOBIG] Literal too big"
    assert raw.line().startswith(b"* BYE")
    assert raw.is_closed()


def test_literals_login(server, tls_ctx):
    raw = Raw(server, "imaps", tls_ctx)
    raw.line()
    user, pw = ALICE.encode(), PASSWORD.encode()
    raw.send(b"a LOGIN {%d}\r\n" % len(user))
    assert raw.line().startswith(b"+ ")
    raw.send(user + b" {%d+}\r\n" % len(pw) + pw + b"\r\n")
    assert raw.line().startswith(b"a OK [CAPABILITY ")
    raw.close()


def test_too_many_errors(server):
    raw = Raw(server)
    raw.line()
    raw.send(b"".join(b"t%d BOGUS\r\n" % i for i in range(25)))
    lines = [raw.line() for _ in range(21)]
    assert all(l.endswith(b"BAD Unknown command") for l in lines[:20])
    assert lines[20] == b"* BYE Too many errors"
    assert raw.is_closed()


def test_logout(server):
    raw = Raw(server)
    raw.line()
    raw.send(b"z LOGOUT\r\nzz NOOP\r\n")
    assert raw.line() == b"* BYE Logging out"
    assert raw.line() == b"z OK LOGOUT completed"
    assert raw.is_closed()


def test_id_and_noop_new_mail(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m.xatom("ID", '("name" "pytest")')
    assert typ == "OK"
    assert b"Postamt" in m.untagged_responses["ID"][0]
    m.select("INBOX")
    deliver(server)
    typ, _ = m.noop()
    assert m.untagged_responses.get("EXISTS")[-1] == b"1"
    m.logout()


def test_starttls_drops_pipelined_commands(server, tls_ctx):
    raw = Raw(server)
    raw.line()
    # CVE-2011-0411: "b" was sent in plaintext and must not run in TLS.
    raw.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
    assert raw.line() == b"a OK Begin TLS negotiation now"
    raw.sock = tls_ctx.wrap_socket(raw.sock)
    raw.send(b"c CAPABILITY\r\n")
    lines = raw.until_tagged(b"c")
    assert not any(l.startswith(b"b ") for l in lines)
    assert b"STARTTLS" not in lines[0] and b"AUTH=PLAIN" in lines[0]
    raw.close()


def test_idle_timeout_and_shutdown(server):
    server.stop()
    server.configure(imap_timeout="1s")
    server.start()
    raw = Raw(server)
    raw.line()
    assert raw.line() == b"* BYE Autologout; idle for too long"
    assert raw.is_closed()
    raw = Raw(server)
    raw.line()
    server.stop()
    assert raw.line() == b"* BYE Server shutting down"
    assert raw.is_closed()
