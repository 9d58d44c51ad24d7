"""COMPRESS=DEFLATE (RFC 4978) with a raw client doing its own zlib."""
import imaplib
import socket
import zlib

from conftest import DOMAIN, client_tls_context

ALICE = "alice@" + DOMAIN


class DeflateClient:
    def __init__(self, sock):
        self.sock = sock
        self.comp = None
        self.decomp = None
        self.pending = b""

    def start(self):
        self.comp = zlib.compressobj(wbits=-15)
        self.decomp = zlib.decompressobj(wbits=-15)

    def send(self, data):
        if self.comp is not None:
            data = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def read_until(self, marker):
        while marker not in self.pending:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            if self.decomp is not None:
                chunk = self.decomp.decompress(chunk)
            self.pending += chunk
        i = self.pending.index(marker) + len(marker)
        i = self.pending.index(b"\r\n", i) + 2
        out, self.pending = self.pending[:i], self.pending[i:]
        return out


def connect(server):
    raw = socket.create_connection(("127.0.0.1", server.port("imaps")), 10)
    s = client_tls_context().wrap_socket(raw, server_hostname="localhost")
    c = DeflateClient(s)
    assert c.read_until(b"* OK").startswith(b"* OK")
    return c


def test_compress_deflate_round_trip(server):
    body = b"Subject: squeeze\r\n\r\n" + b"compressible text line\r\n" * 20000
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=client_tls_context())
    m.login(ALICE, "secret-alice")
    assert "COMPRESS=DEFLATE" in m.capabilities
    m.append("INBOX", None, None, body)
    m.logout()

    c = connect(server)
    c.send(b"a LOGIN alice@example.test secret-alice\r\n")
    c.read_until(b"a OK")
    c.send(b"b COMPRESS DEFLATE\r\n")
    assert c.read_until(b"b ").startswith(b"b OK")
    c.start()
    # Everything from here on is DEFLATE in both directions.
    c.send(b"c SELECT INBOX\r\n")
    assert b"c OK" in c.read_until(b"c OK")
    c.send(b"d FETCH 1 BODY.PEEK[]\r\ne COMPRESS DEFLATE\r\n")
    got = c.read_until(b"d OK")
    assert body in got
    again = c.read_until(b"e ")
    assert again.startswith(b"e NO [COMPRESSIONACTIVE]")
    c.send(b"f CAPABILITY\r\n")
    caps = c.read_until(b"f OK")
    assert b"COMPRESS=DEFLATE" not in caps
    c.send(b"g LOGOUT\r\n")
    assert b"* BYE" in c.read_until(b"g OK")


def test_compress_needs_a_known_mechanism_and_login(server):
    c = connect(server)
    c.send(b"a COMPRESS DEFLATE\r\n")
    assert c.read_until(b"a ").startswith(b"a BAD")
    c.send(b"b LOGIN alice@example.test secret-alice\r\n")
    c.read_until(b"b OK")
    c.send(b"c COMPRESS LZMA\r\n")
    assert c.read_until(b"c ").startswith(b"c BAD")


def test_corrupt_deflate_stream_closes_the_connection(server):
    c = connect(server)
    c.send(b"a LOGIN alice@example.test secret-alice\r\nb COMPRESS DEFLATE\r\n")
    c.read_until(b"b OK")
    c.sock.sendall(b"\xff\xff\xff\xff garbage that is not deflate")
    c.sock.settimeout(5)
    closed = False
    try:
        while c.sock.recv(4096):
            pass
        closed = True
    except (ConnectionResetError, OSError):
        closed = True
    assert closed
    # The server is fine.
    c2 = connect(server)
    c2.send(b"z NOOP\r\n")
    assert c2.read_until(b"z ").startswith(b"z OK")
