"""POP3 and POP3S (RFC 1939, 2449, 2595, 5034) with Python's poplib.

Messages reach alice's INBOX the way real mail does: over SMTP to the
server's MX port.  The server adds trace headers (Return-Path, Received) at
the top, so message contents are compared by their tail.
"""
import base64
import poplib
import smtplib
import socket
import time

import pytest

ALICE = "alice@example.test"
PASSWORD = "secret-alice"


def message(subject, body_lines):
    head = [f"From: bob@remote.test", f"To: {ALICE}", f"Subject: {subject}",
            "Message-ID: <%s@remote.test>" % subject.replace(" ", "-")]
    return ("\r\n".join(head + [""] + body_lines) + "\r\n").encode()


def deliver(server, msg):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.sendmail("bob@remote.test", [ALICE], msg)


def pop3s(server, tls_ctx, login=True):
    p = poplib.POP3_SSL("127.0.0.1", server.port("pop3s"), context=tls_ctx,
                        timeout=10)
    if login:
        p.user(ALICE)
        p.pass_(PASSWORD)
    return p


def raw_conn(server):
    """A plain socket to port 110 with the greeting already read."""
    sock = socket.create_connection(("127.0.0.1", server.port("pop3")), 10)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"+OK")
    return sock, f


def err_of(excinfo):
    return excinfo.value.args[0]


def test_capa_offers_stls_and_user_is_refused_before_tls(server):
    p = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
    assert p.getwelcome().startswith(b"+OK")
    capa = p.capa()
    assert "STLS" in capa
    assert "UIDL" in capa and "TOP" in capa and "RESP-CODES" in capa
    assert "USER" not in capa and "SASL" not in capa
    with pytest.raises(poplib.error_proto) as e:
        p.user(ALICE)
    assert err_of(e).startswith(b"-ERR [AUTH] TLS is required")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_of(e).startswith(b"-ERR [AUTH]")
    p.quit()


def test_stls_then_login(server, tls_ctx):
    p = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
    p.stls(tls_ctx)
    capa = p.capa()
    assert "STLS" not in capa
    assert "USER" in capa and capa["SASL"] == ["PLAIN", "SCRAM-SHA-256"]
    p.user(ALICE)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    assert p.stat() == (0, 0)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("STLS")
    assert err_of(e) == b"-ERR Command not valid in this state"
    p.quit()


def test_plaintext_login_on_loopback_when_configured(server):
    server.stop()
    server.configure(plaintext_auth_on_loopback="true")
    server.start()
    p = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
    assert "USER" in p.capa()
    p.user(ALICE)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_pop3s_login_good_and_bad(server, tls_ctx):
    p = pop3s(server, tls_ctx, login=False)
    assert "STLS" not in p.capa()
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert err_of(e) == b"-ERR [AUTH] Authentication failed"
    # A failed PASS forgets the USER (RFC 1939 7).
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_of(e) == b"-ERR Send USER first"
    p.user("nobody@example.test")
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_of(e) == b"-ERR [AUTH] Authentication failed"
    p.user(ALICE.upper())
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_auth_plain(server, tls_ctx):
    plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    p = pop3s(server, tls_ctx, login=False)
    # Cancelled, then with the response on a continuation line.
    p._putcmd("AUTH PLAIN")
    assert p._getline()[0].startswith(b"+")
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("*")
    assert err_of(e) == b"-ERR Authentication cancelled"
    bad = base64.b64encode(f"\0{ALICE}\0nope".encode()).decode()
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH PLAIN " + bad)
    assert err_of(e) == b"-ERR [AUTH] Authentication failed"
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH CRAM-MD5")
    assert err_of(e).startswith(b"-ERR")
    p._putcmd("AUTH PLAIN")
    assert p._getline()[0].startswith(b"+")
    assert p._shortcmd(plain).startswith(b"+OK")
    p.quit()
    p = pop3s(server, tls_ctx, login=False)
    assert p._shortcmd("AUTH PLAIN " + plain).startswith(b"+OK")
    p.quit()


def test_stat_and_retr_are_byte_exact(server, tls_ctx):
    body = ["first line", ".a line with one leading dot", "..two dots",
            ".", "last line"]
    sent = message("retr test", body)
    deliver(server, sent)
    p = pop3s(server, tls_ctx)
    count, size = p.stat()
    assert count == 1
    resp, lines, octets = p.retr(1)
    got = b"\r\n".join(lines) + b"\r\n"
    assert resp.startswith(b"+OK")
    assert got.endswith(sent), got
    # The trace headers are at the top, the size is the stored size.
    assert got.startswith(b"Return-Path:") or got.startswith(b"Received:")
    assert len(got) == size
    assert p.list(1) == b"+OK 1 %d" % size
    p.quit()


def test_retr_dot_stuffing_on_the_wire(server, tls_ctx):
    deliver(server, message("dots", [".", "..x", "end"]))
    p = pop3s(server, tls_ctx)
    p._putcmd("RETR 1")
    assert p._getline()[0].startswith(b"+OK")
    wire = []
    while True:
        line = p._getline()[0]
        if line == b".":
            break
        wire.append(line)
    assert wire[-3:] == [b"..", b"...x", b"end"]
    p.quit()


def test_list_and_uidl_stable_across_sessions(server, tls_ctx):
    deliver(server, message("one", ["1"]))
    deliver(server, message("two", ["2"]))
    p = pop3s(server, tls_ctx)
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK") and len(listing) == 2
    assert [l.split()[0] for l in listing] == [b"1", b"2"]
    _, uidl1, _ = p.uidl()
    assert len(uidl1) == 2 and uidl1[0] != uidl1[1]
    assert p.uidl(2) == b"+OK " + uidl1[1]
    p.quit()
    p = pop3s(server, tls_ctx)
    _, uidl2, _ = p.uidl()
    assert uidl2 == uidl1
    p.quit()


def test_top(server, tls_ctx):
    deliver(server, message("top", ["b1", "b2", "b3"]))
    p = pop3s(server, tls_ctx)
    _, lines, _ = p.top(1, 0)
    assert b"Subject: top" in lines
    assert lines[-1] == b"" and b"b1" not in lines
    _, lines, _ = p.top(1, 2)
    assert lines[-3:] == [b"", b"b1", b"b2"]
    _, lines, _ = p.top(1, 100)
    assert lines[-3:] == [b"b1", b"b2", b"b3"]
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("TOP 1")
    assert err_of(e) == b"-ERR Invalid argument"
    p.quit()


def test_dele_and_rset(server, tls_ctx):
    deliver(server, message("d1", ["x"]))
    deliver(server, message("d2", ["y"]))
    p = pop3s(server, tls_ctx)
    count, size = p.stat()
    assert count == 2
    assert p.dele(1).startswith(b"+OK")
    assert p.stat()[0] == 1
    for cmd in ("RETR 1", "DELE 1", "LIST 1"):
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert err_of(e) == b"-ERR Message 1 already deleted"
    assert len(p.list()[1]) == 1
    assert p.rset().startswith(b"+OK")
    assert p.stat() == (count, size)
    p.quit()


def test_dele_quit_removes_message(server, tls_ctx):
    deliver(server, message("gone", ["x"]))
    p = pop3s(server, tls_ctx)
    p.dele(1)
    assert p.quit().startswith(b"+OK")
    p = pop3s(server, tls_ctx)
    assert p.stat() == (0, 0)
    p.quit()


def test_dele_then_drop_keeps_message(server, tls_ctx):
    deliver(server, message("kept", ["x"]))
    p = pop3s(server, tls_ctx)
    p.dele(1)
    p.sock.close()  # no QUIT: RFC 1939 6, no UPDATE state
    p.file.close()
    time.sleep(0.3)
    p = pop3s(server, tls_ctx)
    assert p.stat()[0] == 1
    p.quit()


def test_errors(server, tls_ctx):
    deliver(server, message("e", ["x"]))
    p = pop3s(server, tls_ctx)
    cases = {
        "XYZZY": b"-ERR Unknown command",
        "RETR 2": b"-ERR No such message",
        "RETR 0": b"-ERR No such message",
        "RETR one": b"-ERR Invalid argument",
        "RETR": b"-ERR Invalid argument",
        "LIST 1 2": b"-ERR Invalid argument",
        "USER bob": b"-ERR Command not valid in this state",
    }
    for cmd, want in cases.items():
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert err_of(e) == want, cmd
    assert p.noop().startswith(b"+OK")
    p.quit()


def test_wrong_state_before_login(server):
    sock, f = raw_conn(server)
    sock.sendall(b"STAT\r\nRETR 1\r\nQUIT\r\n")
    assert f.readline() == b"-ERR Command not valid in this state\r\n"
    assert f.readline() == b"-ERR Command not valid in this state\r\n"
    assert f.readline().startswith(b"+OK")
    assert f.readline() == b""
    sock.close()


def test_long_command_refused_but_session_survives(server):
    sock, f = raw_conn(server)
    sock.sendall(b"NOOP " + b"x" * 300 + b"\r\nCAPA\r\n")
    assert f.readline() == b"-ERR Command line too long\r\n"
    assert f.readline().startswith(b"+OK")
    sock.close()


def test_too_long_line_disconnects(server):
    sock, f = raw_conn(server)
    try:
        sock.sendall(b"x" * (200 * 1024))
    except OSError:
        pass  # the server may close while we are still sending
    assert f.readline() == b"-ERR Line too long\r\n"
    # Closing with unread input makes the kernel send RST instead of FIN.
    try:
        assert f.readline() == b""
    except ConnectionResetError:
        pass
    sock.close()


def test_too_many_errors_disconnects(server):
    sock, f = raw_conn(server)
    sock.sendall(b"BOGUS\r\n" * 12)
    for _ in range(10):
        assert f.readline() == b"-ERR Unknown command\r\n"
    assert f.readline() == b"-ERR Too many errors\r\n"
    assert f.readline() == b""
    sock.close()


def test_idle_timeout_applies_no_deletions(server, tls_ctx):
    deliver(server, message("idle", ["x"]))
    server.stop()
    server.configure(pop3_timeout="1s")
    server.start()
    p = pop3s(server, tls_ctx)
    p.dele(1)
    assert p._getline()[0] == b"-ERR Idle timeout, closing"
    p.close()
    p = pop3s(server, tls_ctx)
    assert p.stat()[0] == 1
    p.quit()


def test_shutdown_applies_no_deletions(server, tls_ctx):
    deliver(server, message("shutdown", ["x"]))
    p = pop3s(server, tls_ctx)
    p.dele(1)
    assert server.stop() == 0
    assert p._getline()[0] == b"-ERR Server shutting down"
    p.close()
    server.start()
    p = pop3s(server, tls_ctx)
    assert p.stat()[0] == 1
    p.quit()


def retr_wire(sock, n):
    """The raw bytes of RETR n's response after its +OK line."""
    sock.sendall(b"RETR %d\r\n" % n)
    data = b""
    while not data.endswith(b"\r\n.\r\n") or b"\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data[-200:]
        data += chunk
    first, rest = data.split(b"\r\n", 1)
    assert first.startswith(b"+OK"), first
    return rest


def test_large_retr_plain_matches_tls(server, tls_ctx):
    """On a plain connection RETR sends long runs of clean lines with
    sendfile() and stuffs the rest; the bytes on the wire are exactly those
    a TLS session (copied and stuffed throughout) gets."""
    import ssl
    body = []
    for i in range(6000):  # ~400 KiB, a dot line here and there
        if i % 997 == 0:
            body.append("." + "d" * 70)
        elif i % 1499 == 0:
            body.append("")
        else:
            body.append("line %05d " % i + "x" * 60)
    sent = message("big", body)
    deliver(server, sent)
    server.stop()
    server.configure(plaintext_auth_on_loopback="true")
    server.start()
    plain = socket.create_connection(("127.0.0.1", server.port("pop3")), 10)
    plain.recv(512)
    plain.sendall(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n".encode())
    got = b""
    while got.count(b"\r\n") < 2:
        got += plain.recv(512)
    assert got.split(b"\r\n")[1].startswith(b"+OK"), got
    wire_plain = retr_wire(plain, 1)
    plain.sendall(b"QUIT\r\n")
    plain.close()
    raw = socket.create_connection(("127.0.0.1", server.port("pop3s")), 10)
    tls = tls_ctx.wrap_socket(raw, server_hostname="localhost")
    tls.recv(512)
    tls.sendall(f"USER {ALICE}\r\n".encode())
    tls.recv(512)
    tls.sendall(f"PASS {PASSWORD}\r\n".encode())
    assert tls.recv(512).startswith(b"+OK")
    wire_tls = retr_wire(tls, 1)
    tls.close()
    assert wire_plain == wire_tls
    assert b"\r\n..ddd" in wire_plain
    unstuffed = wire_plain[:-3].replace(b"\r\n..", b"\r\n.")
    assert unstuffed.endswith(sent)
