"""A large FETCH to a client that reads slowly: the server writes ahead only
a bounded amount (net's drained hook), and pipelined commands wait their
turn."""
import imaplib
import socket
import time

from conftest import DOMAIN, client_tls_context, rss_kib, small_window_tls

ALICE = "alice@" + DOMAIN
MIB = 1 << 20
COUNT = 16


def test_slow_reader_does_not_make_the_server_buffer_everything(server):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=client_tls_context())
    m.login(ALICE, "secret-alice")
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (MIB // 1000)
    for _ in range(COUNT):
        assert m.append("INBOX", None, None, body)[0] == "OK"
    # A search indexes the new mail now, so the background indexer's
    # memory (and ASan's quarantine of it) does not land in the window.
    assert m.select("INBOX")[0] == "OK"
    assert m.search(None, "BODY", "unicorn") == ("OK", [b""])
    m.logout()

    raw = socket.create_connection(("127.0.0.1", server.port("imaps")))
    s = client_tls_context().wrap_socket(raw, server_hostname="localhost")
    s.recv(4096)
    s.sendall(b"a LOGIN alice@example.test secret-alice\r\nb SELECT INBOX\r\n")
    got = b""
    while b"b OK" not in got:
        got += s.recv(65536)
    before = rss_kib(server.pid)
    # Ask for all 16 MiB, pipeline a NOOP, then read nothing for a while.
    s.sendall(b"f FETCH 1:* BODY.PEEK[]\r\nn NOOP\r\n")
    time.sleep(2)
    grown = rss_kib(server.pid) - before
    # Without back-pressure every body would sit in the output queue
    # (16 MiB and more); with it, about one message and a window.
    assert grown < 10 * 1024, f"server grew {grown} KiB for a stalled FETCH"
    got = b""
    s.settimeout(30)
    while b"n OK" not in got:
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed early"
        got += chunk
    assert got.count(b" FETCH (BODY[] {") == COUNT
    # The pipelined NOOP is answered after FETCH completes, not in between.
    assert got.index(b"f OK") < got.index(b"n OK")
    s.close()


def small_window_imaps(server):
    """A logged-in IMAPS connection with a small receive window."""
    s, f = small_window_tls(server.port("imaps"), client_tls_context())
    assert f.readline().startswith(b"* OK")
    s.sendall(b"a LOGIN alice@example.test secret-alice\r\nb SELECT INBOX\r\n")
    while not f.readline().startswith(b"b OK"):
        pass
    return s, f


def test_whole_body_is_streamed_and_outlives_an_expunge(server):
    # A 40 MiB message fetched whole is read from the store a chunk at a
    # time as the client takes it: a stalled client costs the server far
    # less than the message, and another session's EXPUNGE meanwhile does
    # not cut the literal short.
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=client_tls_context())
    m.login(ALICE, "secret-alice")
    body = b"Subject: huge\r\n\r\n" + (b"q" * 1022 + b"\r\n") * (40 * 1024)
    assert m.append("INBOX", None, None, body)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    assert m.search(None, "BODY", "unicorn") == ("OK", [b""])
    s, f = small_window_imaps(server)
    before = rss_kib(server.pid)
    # Without PEEK: \Seen is set, and the FLAGS it reports come before
    # the streamed literal; a partial of the same message follows it.
    s.sendall(b"f FETCH 1 (BODY[] BODY[]<5.10> UID)\r\nn NOOP\r\n")
    head = f.readline()
    assert head.startswith(b"* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {%d}\r\n"
                           % len(body)), head
    first = f.read(MIB)
    time.sleep(1)  # the server fills its output window and waits
    grown = rss_kib(server.pid) - before
    # Holding the message would cost 40 MiB and more.
    assert grown < 12 * 1024, f"server grew {grown} KiB for a stalled FETCH"
    assert m.store("1", "+FLAGS", "\\Deleted")[0] == "OK"
    assert m.expunge() == ("OK", [b"1"])
    m.logout()
    rest = f.read(len(body) - MIB)
    assert first + rest == body
    assert f.readline() == b" BODY[]<5> {10}\r\n"
    assert f.read(10) == body[5:15]
    assert f.readline() == b")\r\n"
    # The other session's \Deleted may be told now, but the EXPUNGE
    # waits until the FETCH has ended (RFC 9051 7.4.1).
    line = f.readline()
    if line.startswith(b"* 1 FETCH"):
        assert b"\\Deleted" in line
        line = f.readline()
    assert line.startswith(b"f OK"), line
    assert f.readline() == b"* 1 EXPUNGE\r\n"
    assert f.readline().startswith(b"n OK")
    s.close()


def test_plain_slow_reader_gets_every_byte_in_order(server):
    # On a plain socket the server writes a reply straight to the socket
    # when nothing is queued before it (net/conn.c).  A client that stops
    # reading makes those writes partial: what the socket did not take
    # must queue, once, and what follows must go behind it.  The stream is
    # each message whole, in order, then the tagged replies in the order
    # asked.  (test_pop3's large plain RETR covers a reply written behind
    # a queued file segment.)
    server.stop()
    server.configure(plaintext_auth_on_loopback="true")
    server.start()
    m = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=30)
    m.login(ALICE, "secret-alice")
    bodies = [b"Subject: m%d\r\n\r\n" % i +
              (bytes([97 + i]) * 510 + b"\r\n") * (600 + 90 * i)
              for i in range(8)]
    for body in bodies:
        assert m.append("INBOX", None, None, body)[0] == "OK"
    m.logout()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", server.port("imap")))
    f = sock.makefile("rb")
    assert f.readline().startswith(b"* OK")
    sock.sendall(b"a LOGIN alice@example.test secret-alice\r\n"
                 b"b SELECT INBOX\r\n")
    while not f.readline().startswith(b"b OK"):
        pass
    sock.sendall(b"f FETCH 1:8 BODY.PEEK[]\r\nn NOOP\r\nc CAPABILITY\r\n")
    time.sleep(0.5)  # the server fills the socket and queues the rest
    stream = b""
    while b"\r\nc OK" not in stream:
        chunk = sock.recv(1 << 20)
        assert chunk, "connection closed early"
        stream += chunk
    expect = b"".join(b"* %d FETCH (BODY[] {%d}\r\n" % (i + 1, len(body)) +
                      body + b")\r\n" for i, body in enumerate(bodies))
    assert stream[:len(expect)] == expect, "FETCH stream garbled"
    rest = stream[len(expect):].split(b"\r\n")
    assert rest[0].startswith(b"f OK") and rest[1].startswith(b"n OK")
    assert rest[2].startswith(b"* CAPABILITY") and rest[3].startswith(b"c OK")
    sock.close()
