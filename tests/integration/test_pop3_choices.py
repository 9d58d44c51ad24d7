"""POP3 beyond RFC 1939's basics: the maildrop lock ([IN-USE], RFC 2449
8.1.1), accounts with POP3 disabled, the per-user download choices
(pop3_after_retrieve keep / mark-read / archive, pop3_on_delete expunge /
trash) checked over IMAP, UTF8 (RFC 6856), and large messages.

Settings are changed with `postamt user set`, as an administrator would;
they take effect at the next login without a restart.
"""
import imaplib
import poplib
import re
import smtplib
import socket
import time

import pytest

from conftest import rss_kib, run_cli, small_window_tls
from test_pop3 import ALICE, PASSWORD, deliver, err_of, message, pop3s


def user_set(server, setting):
    run_cli("user", "set", ALICE, setting, data=server.data)


def imaps(server, tls_ctx):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=10)
    m.login(ALICE, PASSWORD)
    return m


def imap_flags(server, tls_ctx, mailbox="INBOX"):
    """The flags of every message in mailbox, in UID order, as sets."""
    m = imaps(server, tls_ctx)
    typ, data = m.select(mailbox, readonly=True)
    assert typ == "OK", (mailbox, data)
    flags = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(FLAGS)")
        assert typ == "OK"
        for item in data:
            found = re.search(rb"FLAGS \(([^)]*)\)", item)
            flags.append(set(found.group(1).decode().split()))
    m.logout()
    return flags


def imap_subjects(server, tls_ctx, mailbox):
    m = imaps(server, tls_ctx)
    typ, data = m.select(mailbox, readonly=True)
    assert typ == "OK", (mailbox, data)
    subjects = []
    if int(data[0]) > 0:
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        for item in data:
            if isinstance(item, tuple):
                found = re.search(rb"^Subject: (.*?)\r$", item[1], re.M)
                subjects.append(found.group(1).decode())
    m.logout()
    return subjects


def deliver_n(server, *subjects):
    for s in subjects:
        deliver(server, message(s, ["body of " + s]))


# ---- the maildrop lock ----

def test_second_login_gets_in_use_until_quit(server, tls_ctx):
    deliver_n(server, "locked")
    first = pop3s(server, tls_ctx)
    second = pop3s(server, tls_ctx, login=False)
    second.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_(PASSWORD)
    assert err_of(e) == (b"-ERR [IN-USE] Maildrop already in use by "
                         b"another POP3 session")
    # A wrong password is still a credentials failure, not IN-USE.
    second.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_("wrong")
    assert err_of(e) == b"-ERR [AUTH] Authentication failed"
    # IMAP alongside is fine.
    assert imap_flags(server, tls_ctx) == [set()]
    assert first.quit().startswith(b"+OK")
    # Released at QUIT: the same connection may now log in.
    second.user(ALICE)
    assert second.pass_(PASSWORD).startswith(b"+OK")
    assert second.stat()[0] == 1
    second.quit()


def test_lock_released_when_connection_drops(server, tls_ctx):
    first = pop3s(server, tls_ctx)
    first.sock.close()
    first.file.close()
    deadline = time.time() + 5
    while True:
        p = pop3s(server, tls_ctx, login=False)
        p.user(ALICE)
        try:
            assert p.pass_(PASSWORD).startswith(b"+OK")
            break
        except poplib.error_proto as e:
            assert err_of(e).startswith(b"-ERR [IN-USE]")
            assert time.time() < deadline, "lock never released"
            p.close()
            time.sleep(0.05)
    p.quit()


def test_login_delay_advertised_and_enforced(server, tls_ctx):
    # Without a delay configured, CAPA says 0 and logins may follow at once.
    p = pop3s(server, tls_ctx, login=False)
    assert p.capa()["LOGIN-DELAY"] == ["0"]
    p.quit()
    pop3s(server, tls_ctx).quit()
    pop3s(server, tls_ctx).quit()
    server.stop()
    server.configure(pop3_login_delay="2s")
    server.start()
    p = pop3s(server, tls_ctx, login=False)
    assert p.capa()["LOGIN-DELAY"] == ["2"]
    p.user(ALICE)
    p.pass_(PASSWORD)
    assert p.capa()["LOGIN-DELAY"] == ["2"]
    p.quit()
    # RFC 2449 8.1.1: the next login within the delay is refused, with
    # the response code; a wrong password is still a plain failure.
    p = pop3s(server, tls_ctx, login=False)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_of(e).startswith(b"-ERR [LOGIN-DELAY] ")
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert not err_of(e).startswith(b"-ERR [LOGIN-DELAY]")
    p.close()
    # Other users are not held up by alice's delay.
    server.add_user("bob@example.test", "secret-bob")
    b = pop3s(server, tls_ctx, login=False)
    b.user("bob@example.test")
    assert b.pass_("secret-bob").startswith(b"+OK")
    b.quit()
    time.sleep(2.1)
    p = pop3s(server, tls_ctx)
    assert p.stat() == (0, 0)
    p.quit()


def test_auth_plain_gets_in_use_too(server, tls_ctx):
    import base64
    first = pop3s(server, tls_ctx)
    plain = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
    p = pop3s(server, tls_ctx, login=False)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("AUTH PLAIN " + plain)
    assert err_of(e).startswith(b"-ERR [IN-USE]")
    p.close()
    first.quit()


# ---- accounts ----

def test_pop3_disabled_account(server, tls_ctx):
    user_set(server, "pop3=no")
    p = pop3s(server, tls_ctx, login=False)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_(PASSWORD)
    assert err_of(e) == b"-ERR [AUTH] POP3 is disabled for this account"
    # The wrong password does not reveal the setting.
    p.user(ALICE)
    with pytest.raises(poplib.error_proto) as e:
        p.pass_("wrong")
    assert err_of(e) == b"-ERR [AUTH] Authentication failed"
    p.close()
    imaps(server, tls_ctx).logout()  # IMAP is still allowed
    user_set(server, "pop3=yes")
    pop3s(server, tls_ctx).quit()


# ---- what a download does ----

def test_keep_is_the_default(server, tls_ctx):
    deliver_n(server, "k1", "k2")
    p = pop3s(server, tls_ctx)
    p.retr(1)
    p.top(2, 0)
    assert p.quit() == b"+OK Bye, 0 messages deleted"
    assert imap_flags(server, tls_ctx) == [set(), set()]


def test_mark_read_at_quit(server, tls_ctx):
    user_set(server, "pop3_after_retrieve=mark-read")
    deliver_n(server, "m1", "m2", "m3")
    p = pop3s(server, tls_ctx)
    p.retr(1)
    p.top(2, 1)  # TOP is not a download
    p.retr(3)
    p.dele(3)
    # Nothing changes before QUIT (RFC 1939 6).
    assert imap_flags(server, tls_ctx) == [set(), set(), set()]
    assert p.quit().startswith(b"+OK Bye, 1 messages deleted")
    assert imap_flags(server, tls_ctx) == [{"\\Seen"}, set()]


def test_mark_read_not_applied_without_quit(server, tls_ctx):
    user_set(server, "pop3_after_retrieve=mark-read")
    deliver_n(server, "dropped")
    p = pop3s(server, tls_ctx)
    p.retr(1)
    p.sock.close()
    p.file.close()
    time.sleep(0.3)
    assert imap_flags(server, tls_ctx) == [set()]


def test_archive_moves_retrieved_messages(server, tls_ctx):
    user_set(server, "pop3_after_retrieve=archive")
    deliver_n(server, "a1", "a2", "a3", "a4")
    p = pop3s(server, tls_ctx)
    uidl = p.uidl()[1]
    p.retr(1)
    p.retr(2)
    p.dele(2)
    p.top(3, 0)
    assert p.quit() == b"+OK Bye, 1 messages deleted"
    assert imap_subjects(server, tls_ctx, "INBOX") == ["a3", "a4"]
    assert imap_subjects(server, tls_ctx, "Archive") == ["a1"]
    assert imap_subjects(server, tls_ctx, "Trash") == []
    # The messages left keep their UIDL.
    p = pop3s(server, tls_ctx)
    assert [l.split()[1] for l in p.uidl()[1]] == \
        [l.split()[1] for l in uidl[2:]]
    p.quit()


def test_trash_on_delete(server, tls_ctx):
    user_set(server, "pop3_on_delete=trash")
    deliver_n(server, "t1", "t2", "t3")
    p = pop3s(server, tls_ctx)
    p.dele(1)
    p.dele(3)
    assert p.quit() == b"+OK Bye, 2 messages moved to Trash"
    assert imap_subjects(server, tls_ctx, "INBOX") == ["t2"]
    assert imap_subjects(server, tls_ctx, "Trash") == ["t1", "t3"]
    p = pop3s(server, tls_ctx)
    assert p.stat()[0] == 1
    p.quit()


def test_trash_with_mark_read_keeps_seen(server, tls_ctx):
    user_set(server, "pop3_on_delete=trash")
    user_set(server, "pop3_after_retrieve=mark-read")
    deliver_n(server, "s1", "s2")
    p = pop3s(server, tls_ctx)
    p.retr(1)
    p.dele(1)
    p.dele(2)
    assert p.quit() == b"+OK Bye, 2 messages moved to Trash"
    assert imap_flags(server, tls_ctx, "Trash") == [{"\\Seen"}, set()]
    assert imap_flags(server, tls_ctx) == []


def test_trash_recreated_if_deleted(server, tls_ctx):
    user_set(server, "pop3_on_delete=trash")
    deliver_n(server, "r1")
    m = imaps(server, tls_ctx)
    try:
        typ, data = m.delete("Trash")
    except imaplib.IMAP4.error as e:
        typ, data = "BAD", e
    m.logout()
    if typ != "OK":
        pytest.skip("IMAP DELETE not available: %r" % data)
    p = pop3s(server, tls_ctx)
    p.dele(1)
    assert p.quit() == b"+OK Bye, 1 messages moved to Trash"
    assert imap_subjects(server, tls_ctx, "Trash") == ["r1"]


def test_dele_of_message_expunged_over_imap(server, tls_ctx):
    deliver_n(server, "x1", "x2")
    p = pop3s(server, tls_ctx)
    m = imaps(server, tls_ctx)
    m.select("INBOX")
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    with pytest.raises(poplib.error_proto) as e:
        p.retr(1)
    assert err_of(e) == b"-ERR Message no longer exists"
    p.dele(1)
    p.dele(2)
    assert p.quit().startswith(b"+OK")
    assert imap_flags(server, tls_ctx) == []


# ---- UTF8 (RFC 6856) ----

UTF8_MSG = ("From: bob@remote.test\r\nTo: " + ALICE + "\r\n"
            "Subject: Grüße aus Zürich\r\n\r\nHallo\r\n").encode()


def deliver_utf8(server):
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo()
        opts = ["SMTPUTF8"] if s.has_extn("smtputf8") else []
        s.sendmail("bob@remote.test", [ALICE], UTF8_MSG, mail_options=opts)


def test_utf8_mode(server, tls_ctx):
    deliver_utf8(server)
    deliver_n(server, "ascii")
    p = pop3s(server, tls_ctx, login=False)
    assert "UTF8" in p.capa()
    p.user(ALICE)
    p.pass_(PASSWORD)
    # Not in UTF-8 mode: the UTF-8 header is refused, ASCII is fine.
    for cmd in ("RETR 1", "TOP 1 0"):
        with pytest.raises(poplib.error_proto) as e:
            p._shortcmd(cmd)
        assert err_of(e).startswith(b"-ERR [UTF8]"), cmd
    assert p.retr(2)[0].startswith(b"+OK")
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("UTF8")
    assert err_of(e) == b"-ERR Command not valid in this state"
    p.quit()
    p = pop3s(server, tls_ctx, login=False)
    assert p._shortcmd("UTF8") == b"+OK UTF-8 mode enabled"
    p.user(ALICE)
    p.pass_(PASSWORD)
    _, lines, _ = p.retr(1)
    assert b"\r\n".join(lines).endswith(UTF8_MSG.rstrip(b"\r\n"))
    p.quit()


def test_no_stls_after_utf8(server):
    p = poplib.POP3("127.0.0.1", server.port("pop3"), timeout=10)
    assert p._shortcmd("utf8").startswith(b"+OK")
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("STLS")
    assert err_of(e) == b"-ERR STLS is not allowed after UTF8"
    p.quit()


# ---- large messages ----

def test_large_message_byte_exact(server, tls_ctx):
    # 4 MiB of lines, some starting with a dot, so stuffing crosses the
    # server's 64 KiB chunks at many places.
    body = [("." if i % 7 == 0 else "") + "%06d " % i + "x" * 70
            for i in range(4 * 1024 * 1024 // 80)]
    sent = message("large", body)
    deliver(server, sent)
    p = pop3s(server, tls_ctx)
    count, size = p.stat()
    resp, lines, octets = p.retr(1)
    got = b"\r\n".join(lines) + b"\r\n"
    assert resp == b"+OK %d octets" % size
    assert len(got) == size and got.endswith(sent)
    _, lines, _ = p.top(1, 2)
    assert lines[-2:] == [body[0].encode(), body[1].encode()]
    p.quit()


def test_large_responses_pipelined_to_a_slow_reader(server, tls_ctx):
    # Two responses far above the server's output high-water mark, with
    # commands pipelined behind them: they must come back whole, in order.
    line = b"." + b"y" * 78 + b"\r\n"
    sent = message("pipelined", [(line * 20000).decode().rstrip("\r\n")])
    deliver(server, sent)
    p = pop3s(server, tls_ctx)
    size = p.stat()[1]
    p.sock.sendall(b"RETR 1\r\nNOOP\r\nTOP 1 1\r\nRETR 1\r\nSTAT\r\n")
    time.sleep(0.5)  # let the server fill its output and wait
    for cmd in ("RETR", "NOOP", "TOP", "RETR", "STAT"):
        first = p._getline()[0]
        assert first.startswith(b"+OK"), (cmd, first)
        if cmd in ("RETR", "TOP"):
            lines = []
            while (l := p._getline()[0]) != b".":
                lines.append(l[1:] if l.startswith(b"..") else l)
            got = b"\r\n".join(lines) + b"\r\n"
            if cmd == "RETR":
                assert len(got) == size and got.endswith(sent)
            else:
                assert lines[-1] == line.rstrip(b"\r\n")
    assert p.quit().startswith(b"+OK")


def small_window_pop3s(server, tls_ctx):
    """A logged-in POP3S connection with a small receive window."""
    s, f = small_window_tls(server.port("pop3s"), tls_ctx)
    assert f.readline().startswith(b"+OK")
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (ALICE.encode(), PASSWORD.encode()))
    assert f.readline().startswith(b"+OK")
    assert f.readline().startswith(b"+OK")
    return s, f


def test_retr_streams_and_outlives_an_expunge(server, tls_ctx):
    # 40 MiB in one message: RETR reads it in chunks as the client takes
    # them, so a stalled client costs the server far less than the
    # message; an IMAP EXPUNGE in the middle does not cut the download.
    line = b"z" * 1022 + b"\r\n"
    sent = b"Subject: huge\r\n\r\n" + line * (40 * 1024)
    m = imaps(server, tls_ctx)
    assert m.append("INBOX", None, None, sent)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    # Indexed now, so the background indexer stays out of the window.
    assert m.search(None, "BODY", "unicorn") == ("OK", [b""])
    s, f = small_window_pop3s(server, tls_ctx)
    before = rss_kib(server.pid)
    s.sendall(b"RETR 1\r\n")
    assert f.readline() == b"+OK %d octets\r\n" % len(sent)
    got = [f.readline() for _ in range(1000)]
    time.sleep(1)  # the server fills its output window and waits
    grown = rss_kib(server.pid) - before
    # Holding the message would cost 40 MiB and more.
    assert grown < 12 * 1024, f"server grew {grown} KiB for a stalled RETR"
    assert m.store("1", "+FLAGS", "\\Deleted")[0] == "OK"
    assert m.expunge() == ("OK", [b"1"])
    m.logout()
    while (l := f.readline()) != b".\r\n":
        assert l, "connection closed early"
        got.append(l)
    assert b"".join(got) == sent
    s.sendall(b"QUIT\r\n")
    assert f.readline().startswith(b"+OK")
    s.close()
