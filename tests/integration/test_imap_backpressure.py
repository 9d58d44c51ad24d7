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
