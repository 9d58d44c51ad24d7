"""A large FETCH to a client that reads slowly: the server writes ahead only
a bounded amount (net's drained hook), and pipelined commands wait their
turn."""
import imaplib
import socket
import time

from conftest import DOMAIN, client_tls_context

ALICE = "alice@" + DOMAIN
MIB = 1 << 20
COUNT = 16


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


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
