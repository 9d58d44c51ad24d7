"""SMTP delivery to the world (issue 4): MX lookup through libunbound
against a tiny DNS server on 127.0.0.1 (MX preference order, failover to
the next host, implicit MX, NXDOMAIN and null MX bounces), one SMTP session
for several messages to one destination, the DSN extension (RFC 3461:
parameters stored and passed on, NOTIFY honoured, "relayed" and "delayed"
notices), smtp_bare_lf = normalize, and 552 5.2.2 at RCPT for a mailbox
already over quota.
"""
import os
import re
import smtplib
import socket
import struct
import threading
import time

import pytest

from conftest import DOMAIN, run_cli
from test_smtp_queue import (ALICE, PASSWORD, Sink, inbox, queue_files,
                             wait_for_log)

TYPE_A, TYPE_MX, TYPE_AAAA = 1, 15, 28


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class DNS:
    """Answers A and MX queries from a dict {(name, type): [rdata]} over UDP
    on 127.0.0.1; unknown names get NXDOMAIN, known names NODATA."""

    def __init__(self, records):
        self.records = {(n.lower(), t): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(pkt), peer)
            except (OSError, ValueError, IndexError, struct.error):
                continue

    def _answer(self, pkt):
        qid, flags = struct.unpack("!HH", pkt[:4])
        i, labels = 12, []
        while pkt[i]:
            labels.append(pkt[i + 1:i + 1 + pkt[i]].decode().lower())
            i += 1 + pkt[i]
        qtype = struct.unpack("!H", pkt[i + 1:i + 3])[0]
        question = pkt[12:i + 5]
        name = ".".join(labels)
        self.queries.append((name, qtype))
        answers = self.records.get((name, qtype), [])
        rcode = 0 if name in self.names else 3
        out = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode,
                          1, len(answers), 0, 0) + question
        for rdata in answers:
            out += b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60,
                                             len(rdata)) + rdata
        return out

    def close(self):
        self.sock.close()


def mx(pref, host):
    return struct.pack("!H", pref) + wire_name(host)


def a(addr):
    return socket.inet_aton(addr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mx_world(server, monkeypatch):
    """The server delivering by MX: DNS and the sink on 127.0.0.1."""
    sink = Sink()
    # 127.0.0.2 is loopback too, but nothing listens there on this port.
    dns = DNS({
        ("remote.example", TYPE_MX): [mx(20, "mx2.remote.example"),
                                   mx(10, "mx1.remote.example")],
        ("mx1.remote.example", TYPE_A): [a("127.0.0.2")],
        ("mx2.remote.example", TYPE_A): [a("127.0.0.1")],
        ("plain.example", TYPE_A): [a("127.0.0.1")],
        ("nomail.example", TYPE_MX): [mx(0, ".")],
    })
    assert server.stop() == 0, server.log()
    server.configure(relay_host="none", dns_resolver=f"127.0.0.1@{dns.port}",
                     mx_port=str(sink.port))
    server.start()
    yield server, sink, dns
    sink.close()
    dns.close()


def send(server, tls_ctx, to, body="Hello", mail_opts=(), rcpt_opts=()):
    msg = (f"From: Alice <{ALICE}>\r\nTo: <{to[0]}>\r\n"
           f"Subject: world\r\nMessage-ID: <m{time.time()}@x>\r\n\r\n"
           f"{body}\r\n")
    with smtplib.SMTP_SSL("127.0.0.1", server.port("submissions"),
                          context=tls_ctx, timeout=10) as s:
        s.login(ALICE, PASSWORD)
        s.sendmail(ALICE, to, msg, list(mail_opts), list(rcpt_opts))


def wait_inbox(server, tls_ctx, count, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        msgs = inbox(server, tls_ctx)
        if len(msgs) >= count:
            return msgs
        time.sleep(0.1)
    return inbox(server, tls_ctx)


def test_mx_preference_order_and_failover(mx_world, tls_ctx):
    server, sink, dns = mx_world
    send(server, tls_ctx, ["bob@remote.example"])
    assert sink.wait(), server.log()
    assert sink.messages[0][1] == ["RCPT TO:<bob@remote.example>"]
    # mx1 (preference 10) was asked first and failed over to mx2.
    assert wait_for_log(server, r"relay host=127\.0\.0\.2 failed .* "
                                r"trying 127\.0\.0\.1"), server.log()
    assert ("remote.example", TYPE_MX) in dns.queries
    assert ("mx1.remote.example", TYPE_A) in dns.queries
    assert queue_files(server) == []


def test_implicit_mx_and_split_by_domain(mx_world, tls_ctx):
    server, sink, dns = mx_world
    send(server, tls_ctx, ["carol@plain.example", "bob@remote.example"])
    assert sink.wait(2), server.log()
    rcpts = sorted(r for m in sink.messages for r in m[1])
    assert rcpts == ["RCPT TO:<bob@remote.example>", "RCPT TO:<carol@plain.example>"]
    # plain.example has no MX: its own A record is used (RFC 5321 5.1).
    assert ("plain.example", TYPE_A) in dns.queries


def test_nxdomain_and_null_mx_bounce(mx_world, tls_ctx):
    server, sink, dns = mx_world
    send(server, tls_ctx, ["x@nowhere.example", "y@nomail.example"])
    msgs = wait_inbox(server, tls_ctx, 1)
    assert len(msgs) == 1, server.log()
    dsn = msgs[0].decode()
    assert "Action: failed" in dsn
    assert "Final-Recipient: rfc822; x@nowhere.example" in dsn
    assert "Status: 5.1.2" in dsn
    assert "Final-Recipient: rfc822; y@nomail.example" in dsn
    assert "Status: 5.1.10" in dsn
    assert sink.messages == []
    assert queue_files(server) == []


@pytest.fixture
def relay_sink(server):
    """relay_host pointing at a sink without DSN support (dsn=False)."""
    sink = Sink()
    assert server.stop() == 0, server.log()
    server.configure(relay_host=f"127.0.0.1:{sink.port}")
    server.start()
    yield server, sink
    sink.close()


def count_connections(sink):
    return sum(1 for c in sink.commands if c.upper().startswith("EHLO"))


def test_connection_reuse(relay_sink, tls_ctx):
    server, sink = relay_sink
    for i in range(3):
        send(server, tls_ctx, [f"r{i}@remote.example"], body=f"n{i}")
    assert sink.wait(3), server.log()
    # Three messages, one SMTP session (the relay waits a little for more).
    assert count_connections(sink) == 1, sink.commands
    assert [c.split()[0].upper() for c in sink.commands].count("MAIL") == 3
    assert wait_for_log(server, r"relay dest=127\.0\.0\.1 closed after 3 "
                                r"messages", seconds=15), server.log()


def test_dsn_params_passed_and_stored(relay_sink, tls_ctx):
    server, sink = relay_sink
    sink.rcpt_reply = "451 4.7.1 later"
    send(server, tls_ctx, ["bob@remote.example"],
         mail_opts=["RET=HDRS", "ENVID=QQ+2B1"],
         rcpt_opts=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;bob@remote.example"])
    assert wait_for_log(server, r"status=deferred"), server.log()
    files = queue_files(server)
    assert len(files) == 1
    head = (server.data / "queue" / files[0]).read_text().split("\n\n")[0]
    assert "envid QQ+2B1" in head
    assert "ret hdrs" in head
    assert "notify 12" in head  # FAILURE | DELAY
    assert "orcpt rfc822;bob@remote.example" in head
    # The sink advertises DSN, so the parameters travel on.
    mail = [c for c in sink.commands if c.startswith("MAIL")][0]
    rcpt = [c for c in sink.commands if c.startswith("RCPT")][0]
    assert "RET=HDRS" in mail and "ENVID=QQ+2B1" in mail
    assert "NOTIFY=FAILURE,DELAY" in rcpt
    assert "ORCPT=rfc822;bob@remote.example" in rcpt


def test_notify_never_suppresses_bounce(relay_sink, tls_ctx):
    server, sink = relay_sink
    sink.rcpt_reply = "550 5.1.1 No such user"
    send(server, tls_ctx, ["bob@remote.example"], rcpt_opts=["NOTIFY=NEVER"])
    assert wait_for_log(server, r"status=bounced"), server.log()
    time.sleep(0.5)
    assert "dsn id=" not in server.log()
    assert inbox(server, tls_ctx) == []


def test_notify_success_relayed(relay_sink, tls_ctx):
    server, sink = relay_sink
    sink.dsn = False  # so the next hop cannot report success itself
    send(server, tls_ctx, ["bob@remote.example"],
         rcpt_opts=["NOTIFY=SUCCESS"])
    assert sink.wait(), server.log()
    msgs = wait_inbox(server, tls_ctx, 1)
    assert len(msgs) == 1, server.log()
    dsn = msgs[0].decode()
    assert "Action: relayed" in dsn
    assert "Subject: Successful Mail Delivery Report" in dsn
    assert "Status: 2." in dsn


def test_ehlo_advertises_dsn_and_rejects_bad_notify(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.example")
        assert s.has_extn("dsn")
        assert s.mail("x@remote.example", ["RET=HDRS"])[0] == 250
        code, _ = s.rcpt(ALICE, ["NOTIFY=NEVER,SUCCESS"])
        assert code == 501
        code, _ = s.rcpt(ALICE, ["NOTIFY=SUCCESS", "ORCPT=rfc822;" + ALICE])
        assert code == 250


def test_delay_notice_once(server, tls_ctx):
    dead = free_port()
    assert server.stop() == 0, server.log()
    server.configure(relay_host=f"127.0.0.1:{dead}")
    server.start()
    send(server, tls_ctx, ["bob@remote.example"], rcpt_opts=["NOTIFY=DELAY"])
    assert wait_for_log(server, r"status=deferred"), server.log()
    assert server.stop() == 0, server.log()
    # Age the message past the notice time (4 hours).
    qid = queue_files(server)[0]
    path = server.data / "queue" / qid
    old = int(time.time()) - 5 * 3600
    path.write_bytes(re.sub(rb"created \d+", b"created %d" % old,
                            path.read_bytes()))
    for n in (2, 3):
        server.start()
        run_cli("queue", "flush", data=server.data)
        assert wait_count(server, "status=deferred", n), server.log()
        time.sleep(0.3)
        assert server.stop() == 0, server.log()
    server.start()
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1, server.log()
    assert b"Action: delayed" in msgs[0]
    assert b"Subject: Delayed Mail" in msgs[0]
    assert b"warned 1" in path.read_bytes()


def wait_count(server, text, n, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.log().count(text) >= n:
            return True
        time.sleep(0.05)
    return False


def raw_session(server, lines):
    with socket.create_connection(("127.0.0.1", server.port("smtp")),
                                  timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        out = []
        for chunk in lines:
            s.sendall(chunk)
            line = f.readline()
            while line[3:4] == b"-":
                line = f.readline()
            out.append(line.decode().strip())
        return out


def test_bare_lf_normalize(server, tls_ctx):
    assert server.stop() == 0, server.log()
    server.configure(smtp_bare_lf="normalize")
    server.start()
    replies = raw_session(server, [
        b"EHLO c.example\r\n", b"MAIL FROM:<x@remote.example>\r\n",
        f"RCPT TO:<{ALICE}>\r\n".encode(), b"DATA\r\n",
        b"Subject: lf\nX: 1\r\n\r\nline\n.\nMAIL FROM:<evil@x>\r\n"
        b"..dot\r\n.\r\n", b"QUIT\r\n"])
    assert replies[4].startswith("250"), replies
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1
    body = msgs[0]
    assert b"Subject: lf\r\nX: 1\r\n" in body
    assert b"line\r\n\r\nMAIL FROM:<evil@x>\r\n.dot\r\n" in body
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_bare_lf_rejected_by_default(server, tls_ctx):
    replies = raw_session(server, [
        b"EHLO c.example\r\n", b"MAIL FROM:<x@remote.example>\r\n",
        f"RCPT TO:<{ALICE}>\r\n".encode(), b"DATA\r\n",
        b"Subject: lf\nX: 1\r\n\r\nbody\r\n.\r\n"])
    assert replies[4].startswith("550 5.6.0"), replies


def test_quota_refused_at_rcpt(server, tls_ctx):
    run_cli("user", "set", ALICE, "quota_messages=1", data=server.data)
    first = raw_session(server, [
        b"EHLO c.example\r\n", b"MAIL FROM:<x@remote.example>\r\n",
        f"RCPT TO:<{ALICE}>\r\n".encode(), b"DATA\r\n",
        b"Subject: one\r\n\r\nbody\r\n.\r\n"])
    assert first[4].startswith("250"), first
    second = raw_session(server, [
        b"EHLO c.example\r\n", b"MAIL FROM:<x@remote.example>\r\n",
        f"RCPT TO:<{ALICE}>\r\n".encode()])
    assert second[2].startswith("552 5.2.2"), second


def test_partial_failure_after_data_bounces_only_the_refused(server,
                                                              tls_ctx):
    # carol's mailbox is not full at RCPT, but this message does not fit:
    # alice still gets it, the 250 stands for her, and carol's refusal
    # goes back to the sender as a DSN (RFC 5321 has one DATA reply for
    # all recipients; RFC 3464 for the rest).
    carol = "carol@" + DOMAIN
    server.add_user(carol, "secret-carol")
    run_cli("user", "set", carol, "quota=2K", data=server.data)
    body = "Subject: partial\r\n\r\n" + ("x" * 70 + "\r\n") * 60
    replies = raw_session(server, [
        b"EHLO c.example\r\n", f"MAIL FROM:<{ALICE}>\r\n".encode(),
        f"RCPT TO:<{ALICE}>\r\n".encode(),
        f"RCPT TO:<{carol}>\r\n".encode(), b"DATA\r\n",
        body.encode() + b".\r\n"])
    assert replies[2].startswith("250") and replies[3].startswith("250")
    assert replies[5].startswith("250 2.0.0"), replies
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 2, msgs
    assert b"Subject: partial" in msgs[0]
    dsn = msgs[1]
    assert b"multipart/report" in dsn and b"delivery-status" in dsn
    assert f"Final-Recipient: rfc822; {carol}".encode() in dsn
    assert b"Status: 5.2.2" in dsn and b"Action: failed" in dsn

    # With nobody else to take it, DATA itself is refused.
    replies = raw_session(server, [
        b"EHLO c.example\r\n", f"MAIL FROM:<{ALICE}>\r\n".encode(),
        f"RCPT TO:<{carol}>\r\n".encode(), b"DATA\r\n",
        body.encode() + b".\r\n"])
    assert replies[4].startswith("552 5.2.2"), replies
    assert len(inbox(server, tls_ctx)) == 2
