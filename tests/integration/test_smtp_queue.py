"""The outbound queue: submission to remote recipients is queued durably
and relayed to relay_host (a local SMTP sink started by the test), retried
after a 4xx, bounced (RFC 3464 DSN into the sender's INBOX) after a 5xx;
opportunistic STARTTLS to the relay; `postamt queue list|flush|delete`.
"""
import imaplib
import re
import smtplib
import socket
import ssl
import threading
import time

import pytest

from conftest import DOMAIN, run_cli

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"
BOB = "bob@remote.example"


class Sink:
    """A tiny SMTP server on 127.0.0.1 that records what it receives.

    rcpt_reply is the reply to every RCPT (changeable while running);
    with tls_files=(cert, key) it offers STARTTLS."""

    def __init__(self, tls_files=None):
        self.rcpt_reply = "250 2.1.5 Ok"
        self.dsn = True  # advertise DSN (RFC 3461)
        self.messages = []  # (mail_from, [rcpts], data bytes, used_tls)
        self.commands = []
        self.tls_files = tls_files
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,),
                             daemon=True).start()

    def _session(self, conn):
        conn.settimeout(10)
        f = conn.makefile("rb")
        tls = False
        state = {"from": None, "rcpts": []}

        def send(text):
            conn.sendall(text.encode() + b"\r\n")

        send("220 sink ESMTP")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                self.commands.append(cmd)
                verb = cmd.split(" ")[0].upper()
                if verb == "EHLO":
                    caps = ["250-sink", "250-8BITMIME", "250-SIZE 10000000"]
                    if self.tls_files and not tls:
                        caps.append("250-STARTTLS")
                    caps.append("250 DSN" if self.dsn else "250 HELP")
                    send("\r\n".join(caps))
                elif verb == "STARTTLS":
                    send("220 2.0.0 go ahead")
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(*self.tls_files)
                    conn = ctx.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                    tls = True
                elif verb == "MAIL":
                    state = {"from": cmd, "rcpts": []}
                    send("250 2.1.0 Ok")
                elif verb == "RCPT":
                    reply = self.rcpt_reply
                    if reply.startswith("2"):
                        state["rcpts"].append(cmd)
                    send(reply)
                elif verb == "DATA":
                    send("354 go")
                    data = b""
                    while True:
                        l = f.readline()
                        if l in (b".\r\n", b""):
                            break
                        if l.startswith(b"."):
                            l = l[1:]
                        data += l
                    self.messages.append((state["from"], state["rcpts"],
                                          data, tls))
                    send("250 2.0.0 Ok: got it")
                elif verb == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                else:
                    send("250 Ok")
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def wait(self, count=1, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if len(self.messages) >= count:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.sock.close()


@pytest.fixture
def sink_server(server):
    """The server with relay_host pointing at a fresh sink."""
    sink = Sink(tls_files=(server.data / "tls" / "cert.pem",
                           server.data / "tls" / "key.pem"))
    assert server.stop() == 0, server.log()
    server.configure(relay_host=f"127.0.0.1:{sink.port}")
    server.start()
    yield server, sink
    sink.close()


def wait_for_log(server, pattern, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if re.search(pattern, server.log()):
            return True
        time.sleep(0.05)
    return False


def submit(server, tls_ctx, to, sender=ALICE, body="Hello Bob"):
    msg = (f"From: Alice <{ALICE}>\r\nTo: <{to[0]}>\r\n"
           f"Subject: queued\r\n\r\n{body}\r\n.starts with a dot\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", server.port("submissions"),
                          context=tls_ctx, timeout=10) as s:
        s.login(ALICE, PASSWORD)
        s.sendmail(sender, to, msg)


def queue_files(server):
    q = server.data / "queue"
    return sorted(p.name for p in q.iterdir()
                  if re.fullmatch(r"[0-9a-f]{16}", p.name))


def inbox(server, tls_ctx):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=10)
    m.login(ALICE, PASSWORD)
    _, data = m.select("INBOX")
    out = []
    for num in range(1, int(data[0]) + 1):
        _, d = m.fetch(str(num), "(BODY.PEEK[])")
        out.append(d[0][1])
    m.logout()
    return out


def test_remote_recipient_relayed_with_starttls(sink_server, tls_ctx):
    server, sink = sink_server
    submit(server, tls_ctx, [BOB, ALICE])
    assert sink.wait(), server.log()
    mail_from, rcpts, data, used_tls = sink.messages[0]
    assert mail_from.startswith(f"MAIL FROM:<{ALICE}>")
    assert rcpts == [f"RCPT TO:<{BOB}>"]
    assert used_tls, "opportunistic STARTTLS was not used"
    assert b"\r\n.starts with a dot\r\n" in data
    assert b"Received: from " in data and b"Return-Path" not in data
    # The local recipient got it directly, with Return-Path.
    local = inbox(server, tls_ctx)
    assert len(local) == 1 and local[0].startswith(b"Return-Path: <")
    assert wait_for_log(server, r"status=sent")
    assert queue_files(server) == []


def test_retry_after_4xx_then_flush(sink_server, tls_ctx):
    server, sink = sink_server
    sink.rcpt_reply = "451 4.7.1 Try again later"
    submit(server, tls_ctx, [BOB])
    assert wait_for_log(server, r"status=deferred reply=451 4\.7\.1")
    files = queue_files(server)
    assert len(files) == 1
    listing = run_cli("queue", "list", data=server.data).stdout
    assert files[0] in listing and "attempts=1" in listing
    assert f"<{BOB}>" in listing
    sink.rcpt_reply = "250 2.1.5 Ok"
    out = run_cli("queue", "flush", data=server.data).stdout
    assert "flush requested" in out
    assert sink.wait(), server.log()
    assert sink.messages[0][1] == [f"RCPT TO:<{BOB}>"]
    deadline = time.time() + 5
    while queue_files(server) and time.time() < deadline:
        time.sleep(0.05)
    assert queue_files(server) == []


def test_bounce_after_5xx(sink_server, tls_ctx):
    server, sink = sink_server
    sink.rcpt_reply = "550 5.1.1 No such user here"
    submit(server, tls_ctx, [BOB], body="The bounced text")
    assert wait_for_log(server, r"dsn id=\w+ action=failed for=\w+ to=<" + ALICE)
    assert queue_files(server) == []
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1
    dsn = msgs[0].decode()
    assert dsn.startswith("Return-Path: <>\r\n")
    assert "multipart/report; report-type=delivery-status" in dsn
    assert f"Final-Recipient: rfc822; {BOB}" in dsn
    assert "Status: 5.1.1" in dsn
    assert "Action: failed" in dsn
    assert "Diagnostic-Code: smtp; 550 5.1.1 No such user here" in dsn
    assert "The bounced text" in dsn  # the original comes back


def test_no_bounce_for_null_sender(sink_server, tls_ctx):
    server, sink = sink_server
    sink.rcpt_reply = "550 5.1.1 No such user here"
    submit(server, tls_ctx, [BOB], sender="")
    assert wait_for_log(server, r"status=bounced")
    time.sleep(0.3)
    assert "dsn id=" not in server.log()
    assert queue_files(server) == []
    assert inbox(server, tls_ctx) == []


def test_queue_survives_restart_and_delete(server, tls_ctx):
    # A relay port where nobody listens: the attempt fails and is retried.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    assert server.stop() == 0
    server.configure(relay_host=f"127.0.0.1:{dead}")
    server.start()
    submit(server, tls_ctx, [BOB])
    assert wait_for_log(server, r"status=deferred reply=451 4\.4\.1")
    (qid,) = queue_files(server)
    assert server.stop() == 0
    sink = Sink()
    try:
        server.configure(relay_host=f"127.0.0.1:{sink.port}")
        server.start()
        assert queue_files(server) == [qid]  # not due yet
        run_cli("queue", "flush", data=server.data)
        assert sink.wait(), server.log()
        assert f"RCPT TO:<{BOB}>" in sink.messages[0][1]
    finally:
        sink.close()
    # delete: unknown id fails with 1, a real one disappears.
    res = run_cli("queue", "delete", "0123456789abcdef", data=server.data,
                  check=False)
    assert res.returncode == 1 and "no queued message" in res.stderr


def test_queue_cli_usage(server):
    assert run_cli("queue", "--help").returncode == 0
    for args in (("queue",), ("queue", "bogus"), ("queue", "delete"),
                 ("queue", "list", "extra")):
        res = run_cli(*args, data=server.data, check=False)
        assert res.returncode == 2, args
    res = run_cli("queue", "list", data=server.data)
    assert "queue is empty" in res.stdout


def test_mx_still_refuses_relay(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("c.example")
        s.mail("someone@remote.example")
        code, msg = s.rcpt(BOB)
        assert code == 554 and b"5.7.1" in msg
    assert queue_files(server) == []
