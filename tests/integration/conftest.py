"""Fixtures shared by the integration tests.

Every test that needs a server gets its own: a fresh temporary data
directory, `postamt init`, and `postamt serve --port-offset N` on 127.0.0.1
with an offset no other test uses at that moment.  The server is stopped by
its pid.  Clients are the real ones from Python's standard library.
"""
import os
import random
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("POSTAMT_BIN", ROOT / "build" / "debug" / "postamt"))

# Standard ports, as in DESIGN.md; a server with --port-offset N adds N.
PORTS = {
    "smtp": 25, "submission": 587, "submissions": 465,
    "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995,
    "http": 80, "https": 443,
}

DOMAIN = "example.test"


def run_cli(*args, data=None, stdin=None, check=True):
    """Runs `postamt ARGS --data DATA` and returns the CompletedProcess."""
    cmd = [str(BIN), *args]
    if data is not None:
        cmd += ["--data", str(data)]
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                         timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} exited {res.returncode}: {res.stderr}")
    return res


def ports_free(offset):
    for port in PORTS.values():
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + offset))
            except OSError:
                return False
    return True


class Server:
    def __init__(self, data: Path):
        self.data = data
        self.proc = None
        self.offset = None
        self.logfile = data.parent / (data.name + ".log")

    @property
    def pid(self):
        return self.proc.pid

    def init(self, *extra):
        run_cli("init", "--hostname", "mail." + DOMAIN, "--domain", DOMAIN,
                *extra, data=self.data)

    def configure(self, **keys):
        """Rewrites keys in postamt.conf (the server must be restarted)."""
        path = self.data / "postamt.conf"
        lines = path.read_text().splitlines()
        for k, v in keys.items():
            lines = [l for l in lines if not l.startswith(k + " ")]
            lines.append(f"{k} = {v}")
        path.write_text("\n".join(lines) + "\n")

    def add_user(self, address, password):
        run_cli("user", "add", address, "--password-stdin", data=self.data,
                stdin=password + "\n")

    def port(self, service):
        return PORTS[service] + self.offset

    def start(self, wait=True):
        for _ in range(20):
            offset = random.randrange(11000, 64000, 1000) + random.randrange(0, 9)
            if not ports_free(offset):
                continue
            self.offset = offset
            log = open(self.logfile, "ab")
            self.proc = subprocess.Popen(
                [str(BIN), "serve", "--data", str(self.data),
                 "--port-offset", str(offset)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            log.close()
            if not wait:
                return self
            if self.wait_ready():
                return self
            if self.proc.poll() == 2 and "in use" in self.log():
                continue  # another test took a port meanwhile
            raise AssertionError("server did not start:\n" + self.log())
        raise AssertionError("no free port offset found")

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1",
                                               self.port("imap")), 0.5):
                    pass
                if "serving" in self.log():
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig to the server's pid and returns its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server ignored signal {sig} for {timeout}s")

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class LineClient:
    """A raw line client (plain or TLS) for byte-exact protocol cases."""

    def __init__(self, port, tls_ctx=None, timeout=10):
        sock = socket.create_connection(("127.0.0.1", port), timeout)
        if tls_ctx is not None:
            sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def raw_line(self):
        """The next CRLF-terminated line, without the CRLF (bytes)."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_exact(self, n):
        """The next n bytes (a literal's contents)."""
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def closed(self, seconds=None):
        """True once the server closes (reading and dropping the rest)."""
        if seconds is not None:
            self.sock.settimeout(seconds)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class SmtpRaw(LineClient):
    """LineClient speaking SMTP replies."""

    def line(self):
        return self.raw_line().decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return int(lines[-1][:3]), lines

    def last(self):
        """The last line of the next reply."""
        return self.reply()[1][-1]


def rss_kib(pid):
    """The resident memory of process pid, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def small_window_tls(port, tls_ctx, timeout=30):
    """A TLS connection to port with a small receive buffer, so what the
    server has sent ahead is bounded by the server, not by loopback's large
    socket buffers.  Returns the socket and a binary file reading it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    s = tls_ctx.wrap_socket(sock, server_hostname="localhost")
    return s, s.makefile("rb")


def client_tls_context():
    """A client context that accepts the test server's self-signed cert."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def server_data(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def server(server_data):
    """A started server with one user, alice@example.test / password 'secret-alice'."""
    srv = Server(server_data)
    srv.init()
    srv.add_user("alice@" + DOMAIN, "secret-alice")
    srv.start()
    yield srv
    code = srv.stop()
    # A clean SIGTERM exit is part of every test's contract.
    assert code in (0, None), f"server exited {code}:\n{srv.log()}"


@pytest.fixture
def tls_ctx():
    return client_tls_context()
