"""CHUNKING (RFC 3030): BDAT on the MX and on submission, and the local
"delivered" DSN (RFC 3461 NOTIFY=SUCCESS) after DATA and after BDAT.

swaks has no BDAT, and smtplib neither, so the BDAT cases use a raw
socket: they are about exact octet counts on the wire anyway.
"""
import base64
import imaplib
import socket
import ssl
import time

import pytest

from conftest import DOMAIN, SmtpRaw

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"
HEAD = (b"From: Bob <bob@remote.example>\r\nTo: <" + ALICE.encode() +
        b">\r\nSubject: chunks\r\n\r\n")


Raw = SmtpRaw  # exact bytes out, reply lines in (conftest)


def open_mx(server, sender="bob@remote.example", rcpt=ALICE):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO client.example\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n"
           % (sender.encode(), rcpt.encode()))
    code, ehlo = r.reply()
    assert code == 250
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    r.ehlo = ehlo
    return r


def bdat(data, last=False):
    return b"BDAT %d%s\r\n" % (len(data), b" LAST" if last else b"") + data


def inbox(server, tls_ctx):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=10)
    m.login(ALICE, PASSWORD)
    _, data = m.select("INBOX")
    out = []
    for num in range(1, int(data[0]) + 1):
        _, d = m.fetch(str(num), "(BODY.PEEK[])")
        out.append(d[0][1])
    m.logout()
    return out


def wait_inbox(server, tls_ctx, count, seconds=10):
    deadline = time.time() + seconds
    msgs = inbox(server, tls_ctx)
    while len(msgs) < count and time.time() < deadline:
        time.sleep(0.1)
        msgs = inbox(server, tls_ctx)
    return msgs


def body_of(stored):
    """The message without the trace headers Postamt added."""
    assert stored.startswith(b"Return-Path: <")
    return stored[stored.index(b"\r\nFrom: ") + 2:]


def test_ehlo_advertises_chunking_not_binarymime(server):
    r = open_mx(server)
    assert "250-CHUNKING" in r.ehlo or "250 CHUNKING" in r.ehlo
    assert not any("BINARYMIME" in x for x in r.ehlo)
    r.close()


def test_one_chunk_is_binary_clean(server, tls_ctx):
    # Bare LF, bare CR, NUL, a lone dot line and an unstuffed leading dot:
    # BDAT takes the octets as they are (RFC 3030 2).
    msg = HEAD + b"line\nbare lf\rbare cr\x00nul\r\n.\r\n..two dots\r\nend"
    r = open_mx(server)
    r.send(bdat(msg, last=True))
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.send(b"QUIT\r\n")
    assert r.reply()[0] == 221
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1
    assert msgs[0].startswith(b"Return-Path: <bob@remote.example>\r\n"
                              b"Received: from client.example ([127.0.0.1])")
    assert body_of(msgs[0]) == msg


def test_pipelined_chunks_large_and_zero_last(server, tls_ctx):
    # 300 KB in one chunk is several times what the network layer buffers:
    # it must be taken as it arrives.  Pieces end mid-CRLF on purpose.
    big = (b"0123456789" * 7 + b"\r\n") * 4200
    parts = [HEAD + b"first\r", b"\nsecond\r\n", big]
    r = open_mx(server)
    r.send(b"".join(bdat(p) for p in parts) + bdat(b"", last=True))
    for p in parts:
        assert r.last() == "250 2.0.0 %d octets received" % len(p)
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1 and body_of(msgs[0]) == b"".join(parts)


def test_chunk_arriving_slowly(server, tls_ctx):
    msg = HEAD + b"slow\r\n" * 1000
    r = open_mx(server)
    r.send(b"BDAT %d LAST\r\n" % len(msg) + msg[:100])
    time.sleep(0.2)
    r.send(msg[100:3000])
    time.sleep(0.2)
    r.send(msg[3000:])
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    assert body_of(inbox(server, tls_ctx)[0]) == msg


def test_size_limit_across_chunks(server, tls_ctx):
    assert server.stop() == 0, server.log()
    server.configure(max_message_size="2K")
    server.start()
    # Each chunk fits, their sum does not.  The octets of the refused
    # chunks are read and dropped, never run as commands.
    evil = b"QUIT\r\n" * 250
    r = open_mx(server)
    r.send(bdat(HEAD + b"x" * 1400) + bdat(evil) + bdat(b"end", last=True))
    assert r.last() == "250 2.0.0 %d octets received" % (len(HEAD) + 1400)
    assert r.last() == "552 5.3.4 Message too big"
    assert r.last() == "552 5.3.4 Message too big"
    # The transaction ended at LAST; the session goes on.
    r.send(b"MAIL FROM:<bob@remote.example>\r\nRCPT TO:<%s>\r\n"
           % ALICE.encode() + bdat(HEAD + b"fits\r\n", last=True))
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1 and body_of(msgs[0]) == HEAD + b"fits\r\n"


def test_one_chunk_over_the_limit(server):
    assert server.stop() == 0, server.log()
    server.configure(max_message_size="2K")
    server.start()
    r = open_mx(server)
    r.send(bdat(b"NOOP\r\n" * 1000, last=True) + b"NOOP\r\n")
    assert r.last() == "552 5.3.4 Message too big"
    assert r.last() == "250 2.0.0 Ok"  # the NOOP after the octets
    r.close()


def test_data_after_bdat_and_rset_discards(server, tls_ctx):
    r = open_mx(server)
    r.send(bdat(b"discarded by RSET\r\n"))
    assert r.last().startswith("250 2.0.0 ")
    r.send(b"DATA\r\n")
    assert r.last() == "503 5.5.1 Only BDAT or RSET may follow BDAT"
    r.send(b"RCPT TO:<%s>\r\n" % ALICE.encode())
    assert r.reply()[0] == 503
    r.send(b"RSET\r\nMAIL FROM:<bob@remote.example>\r\nRCPT TO:<%s>\r\n"
           % ALICE.encode() + bdat(HEAD + b"kept\r\n", last=True))
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    # DATA and BDAT may be used in one session, in separate transactions.
    r.send(b"MAIL FROM:<bob@remote.example>\r\nRCPT TO:<%s>\r\nDATA\r\n"
           % ALICE.encode())
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    r.send(HEAD + b"by data\r\n.\r\n")
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    msgs = inbox(server, tls_ctx)
    assert [body_of(m) for m in msgs] == [HEAD + b"kept\r\n",
                                         HEAD + b"by data\r\n"]


def test_bdat_out_of_sequence_reads_the_octets(server):
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(bdat(b"QUIT\r\n") + b"EHLO c.example\r\n")
    assert r.last() == "503 5.5.1 Send EHLO/HELO first"
    assert r.reply()[0] == 250
    r.send(bdat(b"QUIT\r\n", last=True) + b"MAIL FROM:<bob@remote.example>"
           b"\r\n" + bdat(b"QUIT\r\n") + b"NOOP\r\n")
    assert r.last() == "503 5.5.1 Need MAIL command first"
    assert r.reply()[0] == 250
    assert r.last() == "503 5.5.1 Need RCPT command first"
    assert r.last() == "250 2.0.0 Ok"
    # After LAST the transaction is over: another BDAT is out of sequence.
    r.send(b"RCPT TO:<%s>\r\n" % ALICE.encode() + bdat(b"x", last=True) +
           bdat(b"QUIT\r\n", last=True) + b"NOOP\r\n")
    assert r.reply()[0] == 250
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    assert r.last() == "503 5.5.1 Need MAIL command first"
    assert r.last() == "250 2.0.0 Ok"
    r.close()


@pytest.mark.parametrize("cmd", [b"BDAT", b"BDAT x", b"BDAT 12 LASTX",
                                 b"BDAT -1", b"BDAT 99999999999999999999"])
def test_bdat_bad_size_closes(server, cmd):
    r = open_mx(server)
    r.send(cmd + b"\r\n")
    assert r.last() == "501 5.5.4 Syntax: BDAT size [LAST]"
    assert r.closed()


def submissions(server, tls_ctx):
    r = Raw(server.port("submissions"), tls_ctx)
    assert r.reply()[0] == 220
    token = base64.b64encode(b"\0" + ALICE.encode() + b"\0" +
                             PASSWORD.encode())
    r.send(b"EHLO client.example\r\nAUTH PLAIN " + token + b"\r\n")
    assert r.reply()[0] == 250 and r.reply()[0] == 235
    return r


def test_bare_lf_refused_for_remote_recipient(server, tls_ctx):
    # The relay sends with DATA: a bare LF could end it early elsewhere.
    own = HEAD.replace(b"Bob <bob@remote.example>", ALICE.encode())
    r = submissions(server, tls_ctx)
    r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<bob@remote.example>\r\n"
           % ALICE.encode() + bdat(own + b"a\n.\r\nMAIL FROM:<x>\r\n",
                                   last=True))
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.last().startswith("550 5.6.0 Bare LF or CR in a message for a "
                               "remote recipient")
    # With CRLF only, the same recipient is queued.
    r.send(b"MAIL FROM:<%s>\r\nRCPT TO:<bob@remote.example>\r\n"
           % ALICE.encode() + bdat(own + b"fine\r\n", last=True))
    assert r.reply()[0] == 250 and r.reply()[0] == 250
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    assert (server.data / "queue").is_dir()


def delivered_dsns(msgs):
    return [m for m in msgs if b"Action: delivered" in m]


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_local_notify_success_dsn(server, tls_ctx, verb):
    # alice sends to herself asking for NOTIFY=SUCCESS: the mail and the
    # "delivered" DSN both land in her INBOX.
    msg = HEAD.replace(b"Bob <bob@remote.example>", ALICE.encode())
    r = Raw(server.port("smtp"))
    assert r.reply()[0] == 220
    r.send(b"EHLO c.example\r\nMAIL FROM:<%s> ENVID=e1\r\n"
           b"RCPT TO:<%s> NOTIFY=SUCCESS ORCPT=rfc822;%s\r\n"
           % (ALICE.encode(), ALICE.encode(), ALICE.encode()))
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    if verb == "DATA":
        r.send(b"DATA\r\n")
        assert r.reply()[0] == 354
        r.send(msg + b"hello\r\n.\r\n")
    else:
        r.send(bdat(msg + b"hello\r\n", last=True))
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    msgs = wait_inbox(server, tls_ctx, 2)
    assert len(msgs) == 2, server.log()
    dsn = delivered_dsns(msgs)
    assert len(dsn) == 1
    text = dsn[0].decode()
    assert "Subject: Successful Mail Delivery Report" in text
    assert "Final-Recipient: rfc822; " + ALICE in text
    assert "Status: 2." in text
    assert "Original-Envelope-Id: e1" in text


def test_no_success_dsn_without_notify(server, tls_ctx):
    r = open_mx(server, sender=ALICE)
    r.send(bdat(HEAD + b"hello\r\n", last=True))
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    r.close()
    time.sleep(0.3)
    msgs = inbox(server, tls_ctx)
    assert len(msgs) == 1 and delivered_dsns(msgs) == []


def test_shutdown_mid_chunk_finishes_it(server, tls_ctx):
    msg = HEAD + b"during shutdown\r\n"
    r = open_mx(server)
    r.send(b"BDAT %d LAST\r\n" % len(msg) + msg[:10])
    time.sleep(0.2)
    server.proc.send_signal(15)
    time.sleep(0.2)
    r.send(msg[10:])
    assert r.last().startswith("250 2.0.0 Ok: queued as ")
    assert r.last() == "421 4.3.2 Server shutting down"
    assert r.closed()
    assert server.proc.wait(15) == 0
