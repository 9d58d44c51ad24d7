"""IMAP FETCH of message structure (RFC 9051 6.4.5, 7.5.2; RFC 3516):
ENVELOPE, BODY, BODYSTRUCTURE, every BODY[section] form with partials,
BINARY / BINARY.PEEK / BINARY.SIZE, the macros, bad section syntax, and a
multi-message FETCH of large bodies.

Messages reach the INBOX over SMTP, as in production; SMTP prepends
Return-Path: and Received:, so whole-header checks use HEADER.FIELDS.
"""
import imaplib
import re
import smtplib
import socket
import time

import pytest

from conftest import DOMAIN

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"

NESTED = (
    "From: Outer <o@x.example>\r\n"
    "Subject: fwd\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "\r\n"
    "see below\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Disposition: inline\r\n"
    "\r\n"
    "From: Inner <i@y.example>\r\n"
    "To: group: a@c.example, <@r1,@r2:b@c.example>;, last@d.example\r\n"
    "Subject: inner\r\n"
    "Content-Type: multipart/alternative; boundary=\"in ner\"\r\n"
    "\r\n"
    "--in ner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain\r\n"
    "two\r\n"
    "--in ner\r\n"
    "Content-Type: text/html; charset=\"us-ascii\"\r\n"
    "\r\n"
    "<b>html</b>\r\n"
    "--in ner--\r\n"
    "--outer--\r\n").encode()

INNER_ENV = (
    '(NIL "inner" (("Inner" NIL "i" "y.example")) '
    '(("Inner" NIL "i" "y.example")) (("Inner" NIL "i" "y.example")) '
    '((NIL NIL "group" NIL)(NIL NIL "a" "c.example")'
    '(NIL "@r1,@r2" "b" "c.example")(NIL NIL NIL NIL)'
    '(NIL NIL "last" "d.example")) NIL NIL NIL NIL)')

NESTED_BS = (
    '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 9 1 NIL NIL '
    'NIL NIL)("message" "rfc822" NIL NIL NIL "7BIT" 295 ' + INNER_ENV +
    ' (("text" "plain" NIL NIL NIL "7BIT" 10 2 NIL NIL NIL NIL)("text" '
    '"html" ("charset" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL) '
    '"alternative" ("boundary" "in ner") NIL NIL NIL) 15 NIL ("inline" '
    'NIL) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)')

NESTED_BODY = (
    '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 9 1)'
    '("message" "rfc822" NIL NIL NIL "7BIT" 295 ' + INNER_ENV +
    ' (("text" "plain" NIL NIL NIL "7BIT" 10 2)("text" "html" '
    '("charset" "us-ascii") NIL NIL "7BIT" 11 1) "alternative") 15) '
    '"mixed")')

MIXED = (
    "From: \"Doe, John\" <john@b.example>\r\n"
    "To: undisclosed-recipients:;\r\n"
    "Subject: =?ISO-8859-1?Q?Caf=E9?= report\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <m1@b.example>\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Caf=C3=A9 soft=\r\n"
    "break\r\n"
    "--XX\r\n"
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment;\r\n"
    " filename*0*=utf-8''%E2%82%AC%20rates;\r\n"
    " filename*1=\".pdf\"\r\n"
    "\r\n"
    "SGVsbG8g\r\n"
    "V29ybGQ=\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Transfer-Encoding: x-uuencode\r\n"
    "\r\n"
    "begin 644 x\r\n"
    "--XX--\r\n"
    "epilogue\r\n").encode()


def deliver(server, *msgs, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", server.port("smtp"),
                              timeout=10) as smtp:
                for data in msgs:
                    smtp.sendmail("bob@remote.example", [ALICE], data)
            return
        except (OSError, smtplib.SMTPException):
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def logged_in(server, tls_ctx):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=30)
    m.login(ALICE, PASSWORD)
    m.select("INBOX")
    return m


def fetch_one(m, seq, items):
    """The response of one message as (text with literals cut, literals)."""
    typ, data = m.fetch(seq, items)
    assert typ == "OK", data
    text, lits = b"", []
    for part in data:
        if isinstance(part, tuple):
            text += part[0]
            lits.append(part[1])
        else:
            text += part
    return text.decode("latin-1"), lits


def test_envelope_body_bodystructure(server, tls_ctx):
    deliver(server, NESTED, MIXED)
    m = logged_in(server, tls_ctx)
    text, _ = fetch_one(m, "1", "(BODYSTRUCTURE)")
    assert text == "1 (BODYSTRUCTURE " + NESTED_BS + ")"
    text, _ = fetch_one(m, "1", "(BODY)")
    assert text == "1 (BODY " + NESTED_BODY + ")"
    text, _ = fetch_one(m, "1", "(ENVELOPE)")
    assert text == ('1 (ENVELOPE (NIL "fwd" (("Outer" NIL "o" "x.example")) '
                    '(("Outer" NIL "o" "x.example")) (("Outer" NIL "o" '
                    '"x.example")) NIL NIL NIL NIL NIL))')
    # ENVELOPE keeps encoded-words raw (RFC 9051 7.5.2).
    text, _ = fetch_one(m, "2", "(ENVELOPE)")
    assert text == (
        '2 (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" '
        '"=?ISO-8859-1?Q?Caf=E9?= report" (("Doe, John" NIL "john" '
        '"b.example")) (("Doe, John" NIL "john" "b.example")) (("Doe, '
        'John" NIL "john" "b.example")) ((NIL NIL "undisclosed-recipients" '
        'NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<m1@b.example>"))')
    text, _ = fetch_one(m, "2", "(BODYSTRUCTURE)")
    assert ('("application" "pdf" ("name" "r.pdf") NIL NIL "base64" 18 NIL '
            '("attachment" ("filename*" "utf-8\'\'%E2%82%AC%20rates.pdf")) '
            'NIL NIL)') in text
    # FULL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY; ALL without BODY.
    text, _ = fetch_one(m, "1", "FULL")
    assert re.fullmatch(r'1 \(FLAGS \(\) INTERNALDATE "[^"]+" RFC822.SIZE '
                        r'\d+ ENVELOPE \(.*\) BODY \(.*\)\)', text), text
    text, _ = fetch_one(m, "1", "ALL")
    assert "ENVELOPE (" in text and "BODY " not in text
    text, _ = fetch_one(m, "1", "FAST")
    assert "ENVELOPE" not in text and "RFC822.SIZE" in text
    m.logout()


def test_body_sections(server, tls_ctx):
    deliver(server, NESTED)
    m = logged_in(server, tls_ctx)
    cases = {
        "1": b"see below",
        "1.MIME": b"\r\n",
        "2.MIME": b"Content-Type: message/rfc822\r\n"
                  b"Content-Disposition: inline\r\n\r\n",
        "2.HEADER": NESTED[NESTED.index(b"From: Inner"):
                           NESTED.index(b"--in ner\r\n")],
        "2.TEXT": NESTED[NESTED.index(b"--in ner\r\n"):
                         NESTED.index(b"\r\n--outer--")],
        "2": NESTED[NESTED.index(b"From: Inner"):
                    NESTED.index(b"\r\n--outer--")],
        "2.1": b"plain\r\ntwo",
        "2.1.MIME": b"Content-Type: text/plain\r\n\r\n",
        "2.2": b"<b>html</b>",
        "2.HEADER.FIELDS (SUBJECT to)":
            b"To: group: a@c.example, <@r1,@r2:b@c.example>;, "
            b"last@d.example\r\nSubject: inner\r\n\r\n",
        "HEADER.FIELDS (Subject From)":
            b"From: Outer <o@x.example>\r\nSubject: fwd\r\n\r\n",
        "TEXT": NESTED[NESTED.index(b"--outer\r\n"):],
    }
    for sec, want in cases.items():
        text, lits = fetch_one(m, "1", f"(BODY.PEEK[{sec}])")
        assert text == f"1 (BODY[{sec}] {{{len(want)}}})", (sec, text)
        assert lits == [want], sec
    text, lits = fetch_one(m, "1", "(BODY.PEEK[HEADER.FIELDS.NOT (Received "
                                   "Return-Path Content-Type)])")
    assert lits == [b"From: Outer <o@x.example>\r\nSubject: fwd\r\n\r\n"]
    # Partial: only the origin is echoed (RFC 9051 6.4.5).
    text, lits = fetch_one(m, "1", "(BODY.PEEK[2.1]<2.5>)")
    assert text == "1 (BODY[2.1]<2> {5})" and lits == [b"ain\r\n"]
    text, lits = fetch_one(m, "1", "(BODY.PEEK[2.1]<100.5>)")
    assert lits == [b""]
    # A part that does not exist is NIL.
    text, _ = fetch_one(m, "1", "(BODY.PEEK[3] BODY.PEEK[1.2])")
    assert text == "1 (BODY[3] NIL BODY[1.2] NIL)"
    text, _ = fetch_one(m, "1", "(FLAGS)")
    assert "\\Seen" not in text
    # BODY[] without PEEK sets \Seen and reports the new FLAGS.
    text, lits = fetch_one(m, "1", "(BODY[1])")
    assert lits == [b"see below"] and "FLAGS (\\Seen)" in text
    m.logout()


def test_binary(server, tls_ctx):
    deliver(server, MIXED)
    m = logged_in(server, tls_ctx)
    text, lits = fetch_one(m, "1", "(BINARY.PEEK[1] BINARY.SIZE[1])")
    assert lits == ["Café softbreak".encode()]
    assert text.endswith(" BINARY.SIZE[1] 15)")
    text, lits = fetch_one(m, "1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    assert lits == [b"Hello World"] and "BINARY.SIZE[2] 11" in text
    text, lits = fetch_one(m, "1", "(BINARY.PEEK[2]<6.5>)")
    assert text == "1 (BINARY[2]<6> {5})" and lits == [b"World"]
    text, _ = fetch_one(m, "1", "(FLAGS)")
    assert "\\Seen" not in text
    # An unknown transfer encoding fails the command (RFC 3516 4.3).
    typ, data = m.fetch("1", "(BINARY.PEEK[4])")
    assert typ == "NO" and b"[UNKNOWN-CTE]" in data[0]
    typ, _ = m.fetch("1", "(BINARY[1])")
    text, _ = fetch_one(m, "1", "(FLAGS)")
    assert "\\Seen" in text
    m.logout()
    # Data with a NUL goes as literal8 (imaplib cannot read "~{").
    sock = tls_ctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", server.port("imaps")), 10))
    sock.sendall(f"a LOGIN {ALICE} {PASSWORD}\r\nb SELECT INBOX\r\n"
                 "c FETCH 1 (BINARY.PEEK[3])\r\nd LOGOUT\r\n".encode())
    got = b""
    while b"d OK" not in got:
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    sock.close()
    assert b"* 1 FETCH (BINARY[3] ~{3}\r\n\x00\x01\x02)\r\n" in got


def test_bad_sections(server, tls_ctx):
    deliver(server, NESTED)
    m = logged_in(server, tls_ctx)
    for item in ("BODY[1.]", "BODY[HEADER.FIELDS ()]", "BINARY[HEADER]",
                 "BODY[MIME]", "BODY[0]", "BODY[1]<5>", "BINARY.SIZE[1]<0.1>",
                 "BODY[HEADER.FIELDS (a]"):
        with pytest.raises(imaplib.IMAP4.error, match="Invalid"):
            m.fetch("1", f"({item})")
    m.logout()


def test_many_large_messages(server, tls_ctx):
    line = b"0123456789abcdef" * 4 + b"\r\n"
    big = (b"Subject: big\r\nContent-Type: text/plain\r\n\r\n" +
           line * (512 * 1024 // len(line)))
    deliver(server, *([big] * 8))
    m = logged_in(server, tls_ctx)
    start = time.time()
    typ, data = m.fetch("1:*", "(BODY.PEEK[TEXT] BODYSTRUCTURE)")
    assert typ == "OK"
    bodies = [p[1] for p in data if isinstance(p, tuple)]
    assert len(bodies) == 8
    assert all(b == big[big.index(b"\r\n\r\n") + 4:] for b in bodies)
    assert time.time() - start < 10
    m.logout()


def test_header_sections_read_header_only(server, tls_ctx):
    """HEADER, HEADER.FIELDS and RFC822.HEADER are served from the bytes
    up to the blank line (a header longer than one read chunk here, a
    3 MB body behind it); they must equal what the whole message gives
    (a FETCH that also asks for TEXT reads all of it)."""
    pad = b"".join(b"X-Pad-%03d: " % i + b"p" * 480 + b"\r\n"
                   for i in range(70))
    big_hdr = b"Subject: big one\r\nFrom: A <a@x.example>\r\n" + pad + b"\r\n"
    msgs = [
        big_hdr + b"body line\r\n" * 300000,
        b"Subject: only a header\r\nX-Last: y\r\n",
        b"Subject: short\r\nX-A: b\r\n\r\nbody\r\n",
        b"\r\nno header at all\r\n",
    ]
    m = logged_in(server, tls_ctx)
    for data in msgs:
        typ, _ = m.append("INBOX", None, None, data)
        assert typ == "OK"
    m.select("INBOX")
    # (Bare LF lines are the unit test's: imaplib sends CRLF.)
    heads = [big_hdr, msgs[1], b"Subject: short\r\nX-A: b\r\n\r\n", b"\r\n"]
    for i, want in enumerate(heads, start=1):
        text, lits = fetch_one(m, str(i), "(BODY.PEEK[HEADER])")
        assert lits == [want], i
        _, full = fetch_one(m, str(i), "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        assert full[0] == want, i
        text, lits = fetch_one(m, str(i), "(RFC822.HEADER ENVELOPE "
                                          "RFC822.SIZE)")
        assert lits == [want], i
        assert f"RFC822.SIZE {len(msgs[i - 1])}" in text, text
    text, lits = fetch_one(m, "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT "
                                   "X-PAD-069)] BODYSTRUCTURE)")
    assert lits == [b"Subject: big one\r\n" + pad[-(11 + 480 + 2):] +
                    b"\r\n"], lits
    assert 'BODYSTRUCTURE ("text" "plain"' in text, text
    text, lits = fetch_one(m, "1", "(BODY.PEEK[HEADER.FIELDS.NOT "
                                   "(X-Pad-000)]<0.20>)")
    assert lits == [b"Subject: big one\r\nFr"], lits
    text, lits = fetch_one(m, "1", "(BODY.PEEK[HEADER]<30000.10>)")
    assert lits == [big_hdr[30000:30010]]
    m.logout()
