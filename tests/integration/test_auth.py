"""Authentication across SMTP, IMAP and POP3: SCRAM-SHA-256 (RFC 5802,
RFC 7677), IMAP AUTHENTICATE LOGIN, failed-login throttling, logins on
the worker pool (pipelined commands wait for them), and `postamt user
import` of Dovecot passwd-file lines.

The SCRAM client side is tests/integration/scram.py.
"""
import ctypes
import imaplib
import smtplib
import socket
import ssl
import time

import pytest

from conftest import run_cli
from scram import ScramClient, b64, unb64

ALICE = "alice@example.test"
PASSWORD = "secret-alice"

# Defaults of auth_fail_max_per_ip / _per_user (src/util/config.c).
THROTTLE_MAX = 10


def imaps(server, tls_ctx):
    return imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                             ssl_context=tls_ctx, timeout=10)


def scram_callback(client, log):
    """An imaplib authobject running the client side of SCRAM."""
    def step(challenge):
        log.append(challenge)
        if len(log) == 1:
            return client.first()
        if len(log) == 2:
            return client.final(challenge)
        assert client.verify(challenge), "bad server signature"
        return b""
    return step


class Lines:
    """A line-oriented TLS client for SMTP and POP3 exchanges."""

    def __init__(self, server, service, tls_ctx, starttls=None):
        sock = socket.create_connection(("127.0.0.1", server.port(service)),
                                        10)
        if starttls is None:
            sock = tls_ctx.wrap_socket(sock)
        self.sock = sock
        self.f = sock.makefile("rb")
        self.greeting = self.line()
        if starttls is not None:
            starttls(self)
            self.sock = tls_ctx.wrap_socket(sock)
            self.f = self.sock.makefile("rb")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def line(self):
        return self.f.readline().rstrip(b"\r\n").decode()

    def cmd(self, text):
        self.send(text)
        return self.line()

    def close(self):
        self.sock.close()


def smtp_session(server, tls_ctx):
    def starttls(c):
        c.send("EHLO client.test")
        while c.line()[3] == "-":
            pass
        assert c.cmd("STARTTLS").startswith("220")
    c = Lines(server, "submission", tls_ctx, starttls)
    c.send("EHLO client.test")
    caps = []
    while True:
        line = c.line()
        caps.append(line[4:])
        if line[3] == " ":
            break
    return c, caps


# ---- SCRAM-SHA-256 ----

def test_imap_scram_sha256(server, tls_ctx):
    with imaps(server, tls_ctx) as m:
        caps = m.capabilities
        assert "AUTH=SCRAM-SHA-256" in caps and "AUTH=LOGIN" in caps
        assert "AUTH=SCRAM-SHA-256-PLUS" not in caps
        client, log = ScramClient(ALICE, PASSWORD), []
        typ, data = m.authenticate("SCRAM-SHA-256",
                                   scram_callback(client, log))
        assert typ == "OK" and b"Logged in" in data[0]
        assert len(log) == 3 and log[0] == b""  # client-first, no IR
        assert m.select("INBOX")[0] == "OK"


def test_imap_scram_wrong_password_and_unknown_user(server, tls_ctx):
    for user, password in ((ALICE, "not-it"), ("nobody@example.test",
                                               PASSWORD)):
        with imaps(server, tls_ctx) as m:
            client = ScramClient(user, password)
            with pytest.raises(imaplib.IMAP4.error) as e:
                m.authenticate("SCRAM-SHA-256",
                               scram_callback(client, []))
            assert "[AUTHENTICATIONFAILED]" in str(e.value)
            assert m.state == "NONAUTH"


def test_imap_scram_initial_response_and_garbage(server, tls_ctx):
    """SASL-IR (RFC 4959) by hand, then malformed messages get BAD."""
    c = Lines(server, "imaps", tls_ctx)
    client = ScramClient(ALICE, PASSWORD)
    c.send("a AUTHENTICATE SCRAM-SHA-256 " + b64(client.first()))
    line = c.line()
    assert line.startswith("+ ")
    server_first = unb64(line[2:])
    assert server_first.startswith(b"r=" + client.nonce.encode())
    assert b",i=4096" in server_first
    c.send(b64(client.final(server_first)))
    line = c.line()
    assert client.verify(unb64(line[2:]))
    c.send("")
    assert c.line().startswith("a OK [CAPABILITY")
    c.close()
    c = Lines(server, "imaps", tls_ctx)
    assert c.cmd("b AUTHENTICATE SCRAM-SHA-256 " +
                 b64(b"p=tls-unique,,n=x,r=abc")).startswith("b BAD")
    assert c.cmd("c AUTHENTICATE SCRAM-SHA-256 !!!!").startswith("c BAD")
    assert c.cmd("d AUTHENTICATE SCRAM-SHA-256") == "+ "
    assert c.cmd("*") == "d BAD Authentication cancelled"
    c.close()


def test_smtp_scram_sha256(server, tls_ctx):
    c, caps = smtp_session(server, tls_ctx)
    assert "AUTH PLAIN LOGIN SCRAM-SHA-256" in caps
    client = ScramClient(ALICE, PASSWORD)
    assert c.cmd("AUTH SCRAM-SHA-256") == "334 "
    line = c.cmd(b64(client.first()))
    assert line.startswith("334 ")
    line = c.cmd(b64(client.final(unb64(line[4:]))))
    assert line.startswith("334 ") and client.verify(unb64(line[4:]))
    assert c.cmd("") == "235 2.7.0 Authentication successful"
    assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("250")
    c.close()
    # Wrong password, with an initial response.
    c, _ = smtp_session(server, tls_ctx)
    client = ScramClient(ALICE, "wrong")
    line = c.cmd("AUTH SCRAM-SHA-256 " + b64(client.first()))
    line = c.cmd(b64(client.final(unb64(line[4:]))))
    assert line == "535 5.7.8 Authentication credentials invalid"
    assert c.cmd(f"MAIL FROM:<{ALICE}>").startswith("530")
    assert c.cmd("AUTH SCRAM-SHA-256 " + b64(b"n,,garbage")).startswith(
        "501 5.5.2")
    c.close()


def pop3_login_scram(c, user, password):
    client = ScramClient(user, password)
    line = c.cmd("AUTH SCRAM-SHA-256")
    assert line == "+ "
    line = c.cmd(b64(client.first()))
    assert line.startswith("+ ")
    line = c.cmd(b64(client.final(unb64(line[2:]))))
    if not line.startswith("+ "):
        return line
    assert client.verify(unb64(line[2:]))
    return c.cmd("")


def test_pop3_scram_sha256(server, tls_ctx):
    c = Lines(server, "pop3s", tls_ctx)
    c.send("CAPA")
    capa = []
    while (line := c.line()) != ".":
        capa.append(line)
    assert "SASL PLAIN SCRAM-SHA-256" in capa
    c.send("AUTH")
    mechs = [c.line() for _ in range(4)]
    assert mechs[1:] == ["PLAIN", "SCRAM-SHA-256", "."]
    assert pop3_login_scram(c, ALICE, "wrong") == \
        "-ERR [AUTH] Authentication failed"
    assert pop3_login_scram(c, ALICE, PASSWORD).startswith("+OK Logged in")
    assert c.cmd("STAT").startswith("+OK 0 ")
    c.close()


# ---- IMAP AUTHENTICATE LOGIN ----

def test_imap_authenticate_login(server, tls_ctx):
    with imaps(server, tls_ctx) as m:
        prompts = []

        def step(challenge):
            prompts.append(challenge)
            return ALICE if len(prompts) == 1 else PASSWORD
        typ, _ = m.authenticate("LOGIN", step)
        assert typ == "OK" and prompts == [b"Username:", b"Password:"]
    with imaps(server, tls_ctx) as m:
        answers = iter([ALICE, "wrong"])
        with pytest.raises(imaplib.IMAP4.error) as e:
            m.authenticate("LOGIN", lambda _: next(answers))
        assert "[AUTHENTICATIONFAILED]" in str(e.value)


# ---- logins on the worker pool ----

def test_pipelined_commands_wait_for_the_login(server, tls_ctx):
    """Commands sent behind a login run after it, in order."""
    c = Lines(server, "imaps", tls_ctx)
    c.sock.sendall(f"a LOGIN {ALICE} {PASSWORD}\r\nb SELECT INBOX\r\n"
                   "c LOGOUT\r\n".encode())
    lines = []
    while not (lines and lines[-1].startswith("c ")):
        lines.append(c.line())
    tags = [l.split()[0] for l in lines if not l.startswith("*")]
    assert tags == ["a", "b", "c"]
    assert lines[0].startswith("a OK")
    assert any(l.startswith("b OK [READ-WRITE]") for l in lines)
    c.close()
    # POP3: USER, PASS and STAT in one write.
    c = Lines(server, "pop3s", tls_ctx)
    c.sock.sendall(f"USER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\n".encode())
    assert c.line().startswith("+OK")
    assert c.line().startswith("+OK Logged in")
    assert c.line().startswith("+OK 0 0")
    c.close()
    # SMTP: AUTH PLAIN and MAIL in one write.
    c, _ = smtp_session(server, tls_ctx)
    c.sock.sendall(b"AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}".encode())
                   .encode() + f"\r\nMAIL FROM:<{ALICE}>\r\n".encode())
    assert c.line().startswith("235")
    assert c.line().startswith("250")
    c.close()


def test_logins_do_not_stall_other_sessions(server, tls_ctx):
    """While many password checks run, another session is answered."""
    # Distinct wrong passwords miss the cache: each costs a full hash.
    conns = []
    for i in range(THROTTLE_MAX - 2):
        c = Lines(server, "imaps", tls_ctx)
        conns.append(c)
    other = Lines(server, "imaps", tls_ctx)
    for i, c in enumerate(conns):
        c.send(f"a LOGIN {ALICE} wrong-{i}")
    t0 = time.monotonic()
    assert other.cmd("x NOOP").startswith("x OK")
    noop = time.monotonic() - t0
    for c in conns:
        assert c.line().startswith("a NO [AUTHENTICATIONFAILED]")
    logins = time.monotonic() - t0
    for c in conns:
        c.close()
    other.close()
    print(f"noop {noop * 1000:.1f} ms, logins {logins * 1000:.1f} ms")
    # Inline, the NOOP would wait behind the hashes queued before it.
    assert noop < logins / 2, (noop, logins)


# ---- throttling ----

def test_throttling_after_failed_logins(server, tls_ctx):
    c = Lines(server, "imaps", tls_ctx)
    for i in range(THROTTLE_MAX):
        assert c.cmd(f"a{i} LOGIN {ALICE} wrong-{i}").startswith(
            f"a{i} NO [AUTHENTICATIONFAILED]")
    # Refused now, even with the right password, in every protocol.
    assert c.cmd(f"b LOGIN {ALICE} {PASSWORD}") == \
        "b NO [UNAVAILABLE] Too many failed logins, try again later"
    c.close()
    c = Lines(server, "pop3s", tls_ctx)
    c.cmd(f"USER {ALICE}")
    assert c.cmd(f"PASS {PASSWORD}") == \
        "-ERR [SYS/TEMP] Too many failed logins, try again later"
    c.close()
    c, _ = smtp_session(server, tls_ctx)
    assert c.cmd("AUTH PLAIN " + b64(f"\0{ALICE}\0{PASSWORD}".encode())) \
        == "454 4.7.0 Too many failed logins, try again later"
    client = ScramClient(ALICE, PASSWORD)
    assert c.cmd("AUTH SCRAM-SHA-256 " + b64(client.first())) == \
        "454 4.7.0 Too many failed logins, try again later"
    c.close()
    assert "throttled" in server.log()


def test_scram_failures_count_too(server, tls_ctx):
    server.add_user("bob@example.test", "secret-bob")
    for i in range(THROTTLE_MAX):
        with imaps(server, tls_ctx) as m:
            with pytest.raises(imaplib.IMAP4.error):
                m.authenticate("SCRAM-SHA-256", scram_callback(
                    ScramClient("bob@example.test", f"bad{i}"), []))
    with imaps(server, tls_ctx) as m:
        with pytest.raises(imaplib.IMAP4.error) as e:
            m.login("bob@example.test", "secret-bob")
        assert "[UNAVAILABLE]" in str(e.value)


# ---- import ----

def libcrypt(password, prefix):
    lib = ctypes.CDLL("libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt.restype = ctypes.c_char_p
    setting = lib.crypt_gensalt(prefix.encode(), 0, None, 0)
    return lib.crypt(password.encode(), setting).decode()


def test_user_import_dovecot_passwd_file(server, tls_ctx, tmp_path):
    users = {
        "blf@example.test": ("pw-blf", "{BLF-CRYPT}" +
                             libcrypt("pw-blf", "$2b$")),
        "sha@example.test": ("pw-sha", "{SHA512-CRYPT}" +
                             libcrypt("pw-sha", "$6$")),
        "des@example.test": ("pw-des", "{CRYPT}" + libcrypt("pw-des", "")),
        "bare@example.test": ("pw-bare", libcrypt("pw-bare", "$y$")),
    }
    lines = ["# Dovecot passwd-file", ""]
    for user, (_, hash_) in users.items():
        lines.append(f"{user}:{hash_}:1000:1000::/home/x::userdb_quota=1G")
    lines += ["plain@example.test:{PLAIN}secret::",
              "md4@example.test:{PLAIN-MD4}abcdef",
              "broken@example.test:$6$nohash",
              "no-colon-here",
              f"{ALICE}:" + libcrypt("x", "$6$")]
    path = tmp_path / "passwd"
    path.write_text("\n".join(lines) + "\n")
    res = run_cli("user", "import", str(path), data=server.data, check=False)
    assert res.returncode == 1
    assert "imported 4 users, 5 refused" in res.stdout
    err = res.stderr
    assert f"{path}:7: clear-text passwords ({{PLAIN}}) are not imported" \
        in err
    assert f"{path}:8: unsupported scheme" in err
    assert f"{path}:9: unsupported password hash" in err
    assert f"{path}:10: no ':' after the user name" in err
    assert f"{path}:11: user {ALICE} already exists" in err
    for user, (password, _) in users.items():
        with imaps(server, tls_ctx) as m:
            assert m.login(user, password)[0] == "OK"
    # No SCRAM keys for imported users until the password is set again.
    with imaps(server, tls_ctx) as m:
        with pytest.raises(imaplib.IMAP4.error) as e:
            m.authenticate("SCRAM-SHA-256", scram_callback(
                ScramClient("sha@example.test", "pw-sha"), []))
        assert "[AUTHENTICATIONFAILED]" in str(e.value)
    run_cli("user", "passwd", "sha@example.test", "--password-stdin",
            data=server.data, stdin="pw-new\n")
    with imaps(server, tls_ctx) as m:
        assert m.authenticate("SCRAM-SHA-256", scram_callback(
            ScramClient("sha@example.test", "pw-new"), []))[0] == "OK"
    help_text = run_cli("user", "--help").stdout
    assert "import" in help_text and "SCRAM" in help_text


def test_throttle_limits_come_from_the_config(server, tls_ctx):
    assert server.stop() == 0
    server.configure(auth_fail_max_per_ip="2", auth_fail_cooldown="2s")
    server.start()
    c = Lines(server, "imaps", tls_ctx)
    for i in range(2):
        assert c.cmd(f"a{i} LOGIN {ALICE} wrong").startswith(
            f"a{i} NO [AUTHENTICATIONFAILED]")
    assert c.cmd(f"b LOGIN {ALICE} {PASSWORD}").startswith(
        "b NO [UNAVAILABLE]")
    time.sleep(2.5)  # auth_fail_cooldown has passed
    assert c.cmd(f"c LOGIN {ALICE} {PASSWORD}").startswith("c OK")
    c.close()
