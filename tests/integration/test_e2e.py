"""The first end-to-end path: mail received over SMTP is stored durably and
read back byte for byte over IMAPS and POP3S."""
import imaplib
import poplib
import signal
import smtplib

from conftest import DOMAIN, client_tls_context

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"

MESSAGE = (
    "From: Bob <bob@remote.example>\r\n"
    f"To: Alice <{ALICE}>\r\n"
    "Subject: end to end\r\n"
    "Message-ID: <e2e-1@remote.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Alice,\r\n"
    ".a line that starts with a dot\r\n"
    "\r\n"
    "  trailing spaces stay   \r\n"
    "Gr\u00fc\u00dfe\r\n"
).encode("utf-8")


def send(server, body=MESSAGE, rcpt=ALICE):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("client.remote.example")
        refused = s.sendmail("bob@remote.example", [rcpt], body)
        assert refused == {}


def imap_fetch_all(server):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=client_tls_context())
    try:
        m.login(ALICE, PASSWORD)
        typ, data = m.select("INBOX")
        assert typ == "OK"
        count = int(data[0])
        bodies = []
        for n in range(1, count + 1):
            typ, data = m.fetch(str(n), "(BODY.PEEK[])")
            assert typ == "OK"
            bodies.append(data[0][1])
        return bodies
    finally:
        m.logout()


def pop3_retr_all(server):
    p = poplib.POP3_SSL("127.0.0.1", server.port("pop3s"),
                        context=client_tls_context())
    try:
        p.user(ALICE)
        p.pass_(PASSWORD)
        count, size = p.stat()
        bodies = []
        for n in range(1, count + 1):
            resp, lines, octets = p.retr(n)
            assert resp.startswith(b"+OK")
            bodies.append(b"\r\n".join(lines) + b"\r\n")
        return count, size, bodies
    finally:
        p.quit()


def test_smtp_to_imap_and_pop3_byte_for_byte(server):
    send(server)
    [stored] = imap_fetch_all(server)
    # The server prepends its trace headers and changes nothing else.
    assert stored.endswith(MESSAGE)
    head = stored[:len(stored) - len(MESSAGE)]
    assert head.startswith(b"Return-Path: <bob@remote.example>\r\n")
    assert b"\r\nReceived: from client.remote.example" in head
    count, size, [popped] = pop3_retr_all(server)
    assert count == 1
    assert size == len(stored)
    # poplib undoes dot-stuffing; the bytes must equal IMAP's exactly.
    assert popped == stored


def test_accepted_mail_survives_kill_9(server):
    for i in range(5):
        send(server, MESSAGE.replace(b"end to end", b"durable %d" % i))
    # No graceful shutdown: the 250 replies were given after fsync.
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.start()
    bodies = imap_fetch_all(server)
    assert len(bodies) == 5
    for i, b in enumerate(bodies):
        assert b.endswith(MESSAGE.replace(b"end to end", b"durable %d" % i))


def curl(*args, data=None):
    import subprocess
    res = subprocess.run(["curl", "--silent", "--show-error", "--insecure",
                          "--max-time", "20", *args], input=data,
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


def test_curl_as_a_real_client(server, tmp_path):
    """curl sends over submission (STARTTLS + AUTH) and reads over IMAPS
    and POP3S: one real client on all three protocols."""
    msg = tmp_path / "msg.eml"
    # Submission checks that From: is the logged-in user's own address.
    msg.write_bytes(MESSAGE.replace(b"end to end", b"via curl").replace(
        b"From: Bob <bob@remote.example>", b"From: Alice <" +
        ALICE.encode() + b">"))
    curl(f"smtp://127.0.0.1:{server.port('submission')}", "--ssl-reqd",
         "--user", f"{ALICE}:{PASSWORD}", "--mail-from", ALICE,
         "--mail-rcpt", ALICE, "--upload-file", str(msg))
    body = curl(f"imaps://127.0.0.1:{server.port('imaps')}/INBOX;UID=1",
                "--user", f"{ALICE}:{PASSWORD}")
    assert body.endswith(msg.read_bytes())
    popped = curl(f"pop3s://127.0.0.1:{server.port('pop3s')}/1",
                  "--user", f"{ALICE}:{PASSWORD}")
    assert popped == body
