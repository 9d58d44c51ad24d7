"""SMTP sessions: the MX on port 25, submission on 587 (STARTTLS, then
AUTH), submissions on 465 (implicit TLS); pipelining, CRLF-strict DATA
(SMTP smuggling), limits, and the STARTTLS plaintext-injection defence.

Clients are smtplib where it can express the case, a raw socket where the
case is about bytes on the wire.
"""
import base64
import imaplib
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, Server, client_tls_context, SmtpRaw

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"
MESSAGE = (
    "From: Bob <bob@remote.example>\r\n"
    f"To: Alice <{ALICE}>\r\n"
    "Subject: smtp test\r\n"
    "\r\n"
    "Hello Alice,\r\n"
    ".a line that starts with a dot\r\n"
).encode()


# Submission checks From: against the login (sender_must_match).
OWN_MESSAGE = MESSAGE.replace(b"From: Bob <bob@remote.example>",
                              b"From: Alice <" + ALICE.encode() + b">")


def accepted_lines(server):
    return re.findall(r"accepted id=\w+ .*", server.log())


def wait_for_log(server, pattern, seconds=5):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if re.search(pattern, server.log()):
            return True
        time.sleep(0.05)
    return False


class Raw(SmtpRaw):
    """A raw SMTP client for byte-exact cases (plain)."""

    def __init__(self, port, timeout=5):
        super().__init__(port, None, timeout)

    def closed(self, seconds=5):
        return super().closed(seconds)


@pytest.fixture
def restartable(server):
    """The server, plus a way to change its config and restart it."""
    def reconfigure(**keys):
        assert server.stop() == 0, server.log()
        server.configure(**keys)
        server.start()
    server.reconfigure = reconfigure
    return server


def test_ehlo_capabilities_on_mx(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        code, banner = s.ehlo("client.example")
        assert code == 250
        assert banner.split(b"\n")[0] == b"mail." + DOMAIN.encode()
        f = s.esmtp_features
        for cap in ("pipelining", "8bitmime", "smtputf8",
                    "enhancedstatuscodes", "starttls", "chunking"):
            assert cap in f, f
        assert f["size"] == str(50 * 1024 * 1024)
        assert "auth" not in f  # never on the MX
        assert "binarymime" not in f  # see src/smtp/bdat.c


def test_greeting(server):
    r = Raw(server.port("smtp"))
    code, lines = r.reply()
    assert code == 220 and lines[0] == f"220 mail.{DOMAIN} ESMTP Postamt"
    r.close()


def test_starttls_forgets_ehlo(server, tls_ctx):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.example")
        code, _ = s.starttls(context=tls_ctx)
        assert code == 220
        # RFC 3207 4.2: the session starts over, EHLO is needed again.
        assert s.docmd("MAIL FROM:<bob@remote.example>")[0] == 503
        s.ehlo("client.example")
        assert "starttls" not in s.esmtp_features
        assert s.docmd("STARTTLS")[0] == 503


def test_delivery_to_local_user(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.remote.example")
        assert s.mail("bob@remote.example")[0] == 250
        assert s.rcpt(ALICE) == (250, b"2.1.5 Ok")
        code, msg = s.data(MESSAGE)
        assert code == 250 and msg.startswith(b"2.0.0 Ok: queued as ")
    assert wait_for_log(server, r"accepted id=\w+ from=<bob@remote\.example>"
                                r" rcpts=1 size=\d+")


def test_delivered_body_readable_over_imap(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.remote.example")
        assert s.sendmail("bob@remote.example", [ALICE], MESSAGE) == {}
    try:
        m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                              ssl_context=client_tls_context(), timeout=10)
    except OSError as e:
        pytest.skip(f"IMAPS not available: {e}")
    try:
        try:
            m.login(ALICE, PASSWORD)
        except imaplib.IMAP4.error as e:
            pytest.skip(f"IMAP login not available: {e}")
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == 1
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK"
        stored = data[0][1]
    finally:
        try:
            m.logout()
        except imaplib.IMAP4.error:
            pass
    head, _, body = stored.partition(b"\r\n")
    assert head == b"Return-Path: <bob@remote.example>"
    assert b"\r\nReceived: from client.remote.example ([127.0.0.1])\r\n" \
           b"\tby mail.example.test (Postamt) with ESMTP id " in stored
    assert stored.endswith(MESSAGE)  # dot-stuffing undone exactly


def test_unknown_user(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.example")
        s.mail("bob@remote.example")
        code, msg = s.rcpt("nobody@" + DOMAIN)
        assert code == 550
        assert msg == (b"5.1.1 <nobody@example.test>: Recipient address "
                       b"rejected: User unknown")


def test_mx_never_relays(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.example")
        s.mail("bob@remote.example")
        code, msg = s.rcpt("carol@other.example")
        assert code == 554
        assert msg == b"5.7.1 <carol@other.example>: Relay access denied"
        # No valid recipient: DATA is a sequence error.
        assert s.docmd("DATA")[0] == 503


def test_submission_requires_starttls_before_auth(server):
    with smtplib.SMTP("127.0.0.1", server.port("submission"),
                      timeout=10) as s:
        s.ehlo("client.example")
        assert "auth" not in s.esmtp_features
        assert "starttls" in s.esmtp_features
        cred = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
        code, msg = s.docmd("AUTH", "PLAIN " + cred)
        assert (code, msg) == (530, b"5.7.0 Must issue a STARTTLS command "
                                    b"first")
        code, msg = s.docmd("MAIL", "FROM:<" + ALICE + ">")
        assert code == 530


def test_submission_auth_after_starttls(server, tls_ctx):
    with smtplib.SMTP("127.0.0.1", server.port("submission"),
                      timeout=10) as s:
        s.starttls(context=tls_ctx)
        s.ehlo("client.example")
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN",
                                                "SCRAM-SHA-256"]
        # Not yet authenticated: no transaction.
        assert s.docmd("MAIL", "FROM:<" + ALICE + ">")[0] == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ALICE, "wrong-password")
        assert e.value.smtp_code == 535
        assert e.value.smtp_error == b"5.7.8 Authentication credentials " \
                                     b"invalid"
        s.auth("PLAIN", lambda challenge=None:
               f"\0{ALICE}\0{PASSWORD}", initial_response_ok=True)
        assert s.sendmail(ALICE, [ALICE], OWN_MESSAGE) == {}
        # A remote recipient is accepted for the outbound queue.
        s.mail(ALICE)
        code, msg = s.rcpt("carol@other.example")
        assert code == 250
        s.rset()
    assert wait_for_log(server, r"accepted id=\w+ from=<alice@")


def test_submission_auth_login_and_cancel(server, tls_ctx):
    with smtplib.SMTP("127.0.0.1", server.port("submission"),
                      timeout=10) as s:
        s.starttls(context=tls_ctx)
        s.ehlo("client.example")
        code, msg = s.docmd("AUTH", "LOGIN")
        assert (code, msg) == (334, b"VXNlcm5hbWU6")
        assert s.docmd("*") == (501, b"5.0.0 Authentication cancelled")
        code, msg = s.docmd("AUTH", "CRAM-MD5")
        assert code == 504
        s.user, s.password = ALICE, PASSWORD
        code, msg = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235 and msg == b"2.7.0 Authentication successful"
        assert s.docmd("AUTH", "PLAIN AAAA")[0] == 503


def test_submissions_implicit_tls(server, tls_ctx):
    with smtplib.SMTP_SSL("127.0.0.1", server.port("submissions"),
                          context=tls_ctx, timeout=10) as s:
        s.ehlo("client.example")
        assert "starttls" not in s.esmtp_features
        assert "auth" in s.esmtp_features
        s.login(ALICE, PASSWORD)
        assert s.sendmail(ALICE, [ALICE], OWN_MESSAGE) == {}


def test_pipelining(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO client.example\r\n"
           b"MAIL FROM:<bob@remote.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<nobody@example.test>\r\n"
           b"RCPT TO:<ALICE@example.test>\r\n"
           b"DATA\r\n")
    assert r.reply()[0] == 250                        # EHLO
    assert r.reply()[1] == ["250 2.1.0 Ok"]           # MAIL
    assert r.reply()[1] == ["250 2.1.5 Ok"]           # RCPT
    assert r.reply()[0] == 550                        # RCPT unknown
    assert r.reply()[1] == ["250 2.1.5 Ok"]           # RCPT, same user
    assert r.reply()[0] == 354                        # DATA
    r.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    code, lines = r.reply()
    assert code == 250 and lines[0].startswith("250 2.0.0 Ok: queued as ")
    assert r.reply()[1] == ["250 2.0.0 Ok"]
    assert r.reply()[1] == ["221 2.0.0 Bye"]
    assert r.closed()
    # Two RCPTs naming the same user deliver once.
    assert wait_for_log(server, r"accepted id=\w+ .* rcpts=1 ")


@pytest.mark.parametrize("data", [
    b"Subject: x\r\n\r\nline\n.\r\n",               # bare LF
    b"Subject: x\r\n\r\nline\r.\r\n",               # bare CR
    b"Subject: x\r\n\r\nline\r\n.\nMAIL FROM:<x@y.example>\r\n",
])
def test_bare_lf_or_cr_rejected(server, data):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO client.example\r\nMAIL FROM:<bob@remote.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for _ in range(4):
        code, _ = r.reply()
    assert code == 354
    # Only CRLF.CRLF ends the data; the bare one does not.
    r.send(data + b"\r\n.\r\n")
    code, lines = r.reply()
    assert lines == ["550 5.6.0 Bare LF or CR in message; lines must end "
                     "in CRLF"]
    r.send(b"NOOP\r\n")
    assert r.reply()[0] == 250
    r.close()
    assert accepted_lines(server) == []


def test_long_line_refused_and_closed(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    try:
        r.send(b"A" * (1024 * 1024))
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert r.reply()[1] == ["500 5.5.2 Line too long"]
    assert r.closed()


def test_oversize_message(restartable):
    server = restartable
    server.reconfigure(max_message_size="2K")
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.example")
        assert s.esmtp_features["size"] == "2048"
        # Announced size over the limit: refused at MAIL (RFC 1870).
        assert s.docmd("MAIL", "FROM:<bob@remote.example> SIZE=4096")[0] \
            == 552
        s.mail("bob@remote.example")
        s.rcpt(ALICE)
        code, msg = s.data(MESSAGE + (b"x" * 70 + b"\r\n") * 100)
        assert (code, msg) == (552, b"5.3.4 Message too big")
        # The session goes on and a message that fits is taken.
        assert s.sendmail("bob@remote.example", [ALICE], MESSAGE) == {}
    assert len(accepted_lines(server)) == 1


def test_starttls_discards_pipelined_plaintext(server, tls_ctx):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO client.example\r\n")
    assert r.reply()[0] == 250
    r.send(b"STARTTLS\r\nNOOP\r\n")
    assert r.reply()[1] == ["220 2.0.0 Ready to start TLS"]
    assert r.buf == b""
    tls = tls_ctx.wrap_socket(r.sock, server_hostname="localhost")
    r.sock, r.buf = tls, b""
    r.send(b"EHLO client.example\r\n")
    code, lines = r.reply()
    # The first reply inside TLS answers EHLO, not the injected NOOP.
    assert code == 250 and lines[0] == f"250-mail.{DOMAIN}"
    assert "250-STARTTLS" not in lines
    r.send(b"QUIT\r\n")
    assert r.reply()[0] == 221
    r.close()


def test_command_errors(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"MAIL FROM:<a@b.example>\r\n")
    assert r.reply()[1] == ["503 5.5.1 Send EHLO/HELO first"]
    r.send(b"HELO client.example\r\n")
    assert r.reply()[1] == [f"250 mail.{DOMAIN}"]
    r.send(b"RCPT TO:<alice@example.test>\r\n")
    assert r.reply()[1] == ["503 5.5.1 Need MAIL command first"]
    r.send(b"MAIL FROM:bob\r\n")
    assert r.reply()[0] == 501
    r.send(b"MAIL FROM:<bob@remote.example> FOO=1\r\n")
    assert r.reply()[0] == 555
    r.send(b"VRFY alice\r\n")
    assert r.reply()[1] == ["252 2.5.0 Cannot VRFY user"]
    r.send(b"HELP\r\n")
    assert r.reply()[0] == 214
    r.send(b"AUTH PLAIN\r\n")  # never on the MX
    assert r.reply()[0] == 503
    r.send(b"RSET\r\nNOOP\r\n")
    assert r.reply()[1] == ["250 2.0.0 Ok"]
    assert r.reply()[1] == ["250 2.0.0 Ok"]
    r.send(b"FOO\r\n")
    assert r.reply()[1] == ["500 5.5.1 Unknown command"]
    # That was the 6th mistake; the 10th closes the connection.
    r.send(b"BAR\r\n" * 4)
    for _ in range(3):
        assert r.reply()[0] == 500
    assert r.reply()[1] == ["500 5.5.1 Unknown command"]
    assert r.reply()[1] == ["421 4.7.0 Too many errors"]
    assert r.closed()


def test_shutdown_finishes_data(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO c.example\r\nMAIL FROM:<bob@remote.example>\r\n"
           b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    for _ in range(4):
        code, _ = r.reply()
    assert code == 354
    r.send(b"Subject: during shutdown\r\n\r\n")
    time.sleep(0.2)
    server.proc.send_signal(15)
    time.sleep(0.2)
    r.send(b"still here\r\n.\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[1] == ["421 4.3.2 Server shutting down"]
    assert r.closed()
    assert server.proc.wait(15) == 0


def test_too_many_recipients(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO c.example\r\nMAIL FROM:<bob@remote.example>\r\n"
           + b"RCPT TO:<alice@example.test>\r\n" * 101)
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    for _ in range(100):
        assert r.reply()[1] == ["250 2.1.5 Ok"]
    assert r.reply()[1] == ["452 4.5.3 Too many recipients"]
    r.close()


def test_idle_timeout(restartable):
    server = restartable
    server.reconfigure(smtp_timeout="1s")
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    assert r.reply()[1] == [f"421 4.4.2 mail.{DOMAIN} Idle timeout, closing"]
    assert r.closed()
