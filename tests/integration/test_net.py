"""The network layer: TLS versions, STARTTLS hygiene, limits, timeouts,
connection caps, SIGHUP certificate reload and SIGTERM shutdown.

IMAP is used as the carrier because its greeting and NOOP are simple; the
behaviour under test is the network layer's and holds for every service.
"""
import signal
import socket
import ssl
import subprocess
import time

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from conftest import DOMAIN, Server, client_tls_context


def start(server_data, **keys):
    srv = Server(server_data)
    srv.init()
    srv.add_user("alice@" + DOMAIN, "secret-alice")
    if keys:
        srv.configure(**keys)
    srv.start()
    return srv


@pytest.fixture
def tuned(server_data, request):
    srv = start(server_data, **request.param)
    yield srv
    assert srv.stop() == 0, srv.log()


def greet(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    line = s.recv(4096)
    return s, line


def closed_within(sock, seconds):
    """True if the peer closes sock within seconds (reads and drops data)."""
    sock.settimeout(0.2)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def tls_connect(port, ctx=None):
    ctx = ctx or client_tls_context()
    raw = socket.create_connection(("127.0.0.1", port), 5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def test_tls_12_and_13_accepted(server):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_tls_context()
        ctx.minimum_version = ctx.maximum_version = version
        with tls_connect(server.port("imaps"), ctx) as s:
            assert s.version() == {"TLSv1_2": "TLSv1.2",
                                   "TLSv1_3": "TLSv1.3"}[version.name]
            assert s.recv(4096).startswith(b"* OK")


def test_tls_11_refused(server):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this client cannot offer TLS 1.1 at all")
    with pytest.raises((ssl.SSLError, ConnectionResetError)) as exc:
        tls_connect(server.port("imaps"), ctx)
    # The refusal must be the server's protocol-version alert, not a
    # client that never offered TLS 1.1.
    assert "VERSION" in str(exc.value).upper() or \
        isinstance(exc.value, ConnectionResetError)


def test_tls_handshake_with_openssl_s_client(server):
    res = subprocess.run(
        ["openssl", "s_client", "-connect",
         f"127.0.0.1:{server.port('pop3s')}", "-brief", "-ign_eof"],
        input="QUIT\r\n", capture_output=True, text=True, timeout=20)
    assert "+OK" in res.stdout, res.stdout + res.stderr
    assert "Protocol version: TLSv1.3" in res.stderr


@pytest.mark.parametrize("tuned", [{"handshake_timeout": "1"}],
                         indirect=True)
def test_stalled_handshake_is_dropped(tuned):
    stalled = socket.create_connection(("127.0.0.1", tuned.port("imaps")))
    stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    # Everyone else is still served meanwhile.
    with tls_connect(tuned.port("imaps")) as s:
        assert s.recv(4096).startswith(b"* OK")
    assert closed_within(stalled, 5)
    assert "TLS handshake timeout" in tuned.log()
    stalled.close()


@pytest.mark.parametrize("service", ["imap", "smtp", "pop3"])
def test_one_mebibyte_without_newline_is_cut_off(server, service):
    s, greeting = greet(server.port(service))
    assert greeting
    try:
        s.sendall(b"x" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert closed_within(s, 10)
    s.close()
    # The server still serves others.
    s2, greeting2 = greet(server.port(service))
    assert greeting2
    s2.close()


@pytest.mark.parametrize("tuned", [{"max_connections_per_ip": "3"}],
                         indirect=True)
def test_connections_per_ip_are_capped(tuned):
    held = [greet(tuned.port("imap"))[0] for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", tuned.port("imap")), 5)
    assert closed_within(extra, 5)
    assert "max_connections_per_ip" in tuned.log()
    held.pop().close()
    time.sleep(0.3)
    s, line = greet(tuned.port("imap"))
    assert line.startswith(b"* OK")
    s.close()
    for h in held:
        h.close()


@pytest.mark.parametrize("tuned", [{"max_connections": "2"}], indirect=True)
def test_total_connections_are_capped(tuned):
    a = greet(tuned.port("imap"))[0]
    b = greet(tuned.port("pop3"))[0]
    extra = socket.create_connection(("127.0.0.1", tuned.port("smtp")), 5)
    extra.settimeout(5)
    # A plain-text service is told why before the connection is closed.
    assert extra.recv(4096).startswith(b"421 4.7.0 Too many connections")
    assert closed_within(extra, 5)
    assert "max_connections reached" in tuned.log()
    a.close()
    b.close()


@pytest.mark.parametrize("tuned", [{"imap_timeout": "1"}], indirect=True)
def test_idle_client_is_logged_out(tuned):
    s, _ = greet(tuned.port("imap"))
    s.settimeout(5)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"* BYE")
    assert closed_within(s, 5)


def test_plaintext_pipelined_after_starttls_is_discarded(server):
    s, _ = greet(server.port("imap"))
    s.sendall(b"a STARTTLS\r\nb CAPABILITY\r\n")
    reply = b""
    while b"a OK" not in reply:
        reply += s.recv(4096)
    assert b"b " not in reply
    t = client_tls_context().wrap_socket(s, server_hostname="localhost")
    t.sendall(b"c NOOP\r\n")
    answer = t.recv(4096)
    # The first reply inside TLS is to "c", never to the smuggled "b".
    assert answer.startswith(b"c OK"), answer
    t.close()


def test_sighup_reloads_the_certificate(server):
    old = tls_connect(server.port("imaps"))
    old.recv(4096)
    old_cert = old.getpeercert(binary_form=True)
    tls = server.data / "tls"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=reloaded.example.test",
                    "-keyout", str(tls / "key.pem"),
                    "-out", str(tls / "cert.pem")],
                   check=True, capture_output=True)
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "reloaded" not in server.log() and time.time() < deadline:
        time.sleep(0.05)
    with tls_connect(server.port("imaps")) as new:
        assert new.getpeercert(binary_form=True) != old_cert
    # The connection made before the reload is still served.
    old.sendall(b"n NOOP\r\n")
    assert old.recv(4096).startswith(b"n OK")
    old.close()


def test_sigterm_says_goodbye_and_exits_cleanly(server_data):
    srv = start(server_data)
    clients = [greet(srv.port(svc))[0] for svc in ("imap", "pop3", "smtp")]
    t0 = time.time()
    assert srv.stop(signal.SIGTERM, timeout=12) == 0, srv.log()
    assert time.time() - t0 < 10
    farewells = []
    for c in clients:
        c.settimeout(2)
        try:
            farewells.append(c.recv(4096))
        except OSError:
            farewells.append(b"")
        c.close()
    assert farewells[0].startswith(b"* BYE"), farewells
    assert farewells[1].startswith(b"-ERR"), farewells
    assert farewells[2].startswith(b"421"), farewells
    assert "shutting down" in srv.log()


def trims(srv):
    return srv.log().count("memory trimmed")


def wait_for(cond, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


@pytest.mark.parametrize(
    "tuned", [{"memory_trim_interval": "1", "log_level": "debug"}],
    indirect=True)
def test_memory_trimmed_after_connections_only(tuned):
    """Freed memory goes back to the system after sessions came and went
    (net/memtrim.c), and a quiet server is left alone."""
    assert wait_for(lambda: trims(tuned) >= 1, 5)  # after the start probe
    socks = [greet(tuned.port("imap"))[0] for _ in range(30)]
    before = trims(tuned)
    for s in socks:
        s.close()
    assert wait_for(lambda: trims(tuned) > before, 5), tuned.log()[-2000:]
    time.sleep(1.5)  # a trim for closes seen after the first one
    settled = trims(tuned)
    time.sleep(3.5)  # three intervals without a connection
    assert trims(tuned) == settled
