"""Aliases, catch-alls and domains (`postamt alias|domain`), recipient
expansion in SMTP, and the submission rules: sender_must_match (MAIL FROM
and From:), per-user submission switch, save_sent.
"""
import imaplib
import re
import smtplib

import pytest

from conftest import DOMAIN, run_cli

ALICE = "alice@" + DOMAIN
PASSWORD = "secret-alice"


def mx_send(server, to, sender="bob@remote.example"):
    msg = f"From: <{sender}>\r\nSubject: hi\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as s:
        s.ehlo("c.example")
        return s.sendmail(sender, to, msg)


def mailbox(server, tls_ctx, user, password, name="INBOX"):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=10)
    m.login(user, password)
    _, data = m.select(name)
    out = []
    for num in range(1, int(data[0]) + 1):
        _, d = m.fetch(str(num), "(FLAGS BODY.PEEK[])")
        out.append((d[0][0], d[0][1]))
    m.logout()
    return out


def submission(server, tls_ctx):
    s = smtplib.SMTP_SSL("127.0.0.1", server.port("submissions"),
                         context=tls_ctx, timeout=10)
    s.login(ALICE, PASSWORD)
    return s


def test_alias_and_domain_cli(server):
    d = server.data
    assert run_cli("alias", "--help").returncode == 0
    assert run_cli("domain", "--help").returncode == 0
    for args in (("alias",), ("alias", "add", "x@" + DOMAIN),
                 ("alias", "frob"), ("domain", "add"),
                 ("domain", "list", "x")):
        assert run_cli(*args, data=d, check=False).returncode == 2, args
    assert run_cli("domain", "add", "other.test", data=d).returncode == 0
    res = run_cli("domain", "add", "other.test", data=d, check=False)
    assert res.returncode == 1 and "already exists" in res.stderr
    assert run_cli("domain", "list", data=d).stdout.split() == \
        [DOMAIN, "other.test"]
    # Targets must be users; the alias's domain must be local.
    res = run_cli("alias", "add", "x@nowhere.test", ALICE, data=d,
                  check=False)
    assert res.returncode == 1 and "not a local domain" in res.stderr
    res = run_cli("alias", "add", "x@other.test", "nobody@" + DOMAIN,
                  data=d, check=False)
    assert res.returncode == 1 and "no user" in res.stderr
    run_cli("alias", "add", "Info@Other.test", ALICE, data=d)
    run_cli("alias", "add", "@other.test", ALICE, data=d)
    assert run_cli("alias", "list", data=d).stdout.splitlines() == \
        [f"@other.test {ALICE}", f"info@other.test {ALICE}"]
    res = run_cli("domain", "del", "other.test", data=d, check=False)
    assert res.returncode == 1 and "still has" in res.stderr
    run_cli("alias", "del", "info@other.test", data=d)
    run_cli("alias", "del", "@other.test", ALICE, data=d)
    res = run_cli("alias", "del", "info@other.test", data=d, check=False)
    assert res.returncode == 1
    assert run_cli("alias", "list", data=d).stdout == ""
    run_cli("domain", "del", "other.test", data=d)
    assert run_cli("domain", "list", data=d).stdout.split() == [DOMAIN]


def test_alias_expansion_and_catch_all(server, tls_ctx):
    d = server.data
    server.add_user("bob@" + DOMAIN, "secret-bob")
    run_cli("alias", "add", "team@" + DOMAIN, ALICE, "bob@" + DOMAIN, data=d)
    assert mx_send(server, ["team@" + DOMAIN]) == {}
    assert len(mailbox(server, tls_ctx, ALICE, PASSWORD)) == 1
    assert len(mailbox(server, tls_ctx, "bob@" + DOMAIN, "secret-bob")) == 1
    # Unknown before the catch-all, delivered to it after.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mx_send(server, ["whoever@" + DOMAIN])
    run_cli("alias", "add", "@" + DOMAIN, "bob@" + DOMAIN, data=d)
    assert mx_send(server, ["whoever@" + DOMAIN]) == {}
    assert len(mailbox(server, tls_ctx, "bob@" + DOMAIN, "secret-bob")) == 2
    # A real user still wins over the catch-all.
    assert mx_send(server, [ALICE]) == {}
    assert len(mailbox(server, tls_ctx, ALICE, PASSWORD)) == 2


def test_sender_must_match(server, tls_ctx):
    run_cli("alias", "add", "info@" + DOMAIN, ALICE, data=server.data)
    with submission(server, tls_ctx) as s:
        code, msg = s.mail("mallory@" + DOMAIN)
        assert code == 553 and b"5.7.1" in msg
        s.rset()
        # Own alias and +detail are fine, in MAIL FROM and From:.
        for sender in ("info@" + DOMAIN, "alice+lists@" + DOMAIN):
            assert s.sendmail(sender, [ALICE],
                              f"From: Me <{sender}>\r\n\r\nx\r\n") == {}
        # A forged From: header is refused after the data.
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(ALICE, [ALICE],
                       "From: \"Boss, Big\" <boss@" + DOMAIN + ">\r\n\r\nx\r\n")
        assert e.value.smtp_code == 553
    assert len(mailbox(server, tls_ctx, ALICE, PASSWORD)) == 2


def test_sender_must_match_off(server, tls_ctx):
    assert server.stop() == 0
    server.configure(sender_must_match="no")
    server.start()
    with submission(server, tls_ctx) as s:
        assert s.sendmail("boss@" + DOMAIN, [ALICE],
                          f"From: <boss@{DOMAIN}>\r\n\r\nx\r\n") == {}


def test_submission_disabled_cannot_auth(server, tls_ctx):
    run_cli("user", "set", ALICE, "submission=no", data=server.data)
    with smtplib.SMTP_SSL("127.0.0.1", server.port("submissions"),
                          context=tls_ctx, timeout=10) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(ALICE, PASSWORD)
        assert e.value.smtp_code == 525


def test_save_sent(server, tls_ctx):
    run_cli("user", "set", ALICE, "save_sent=yes", data=server.data)
    with submission(server, tls_ctx) as s:
        s.sendmail(ALICE, [ALICE],
                   f"From: <{ALICE}>\r\nSubject: keep me\r\n\r\nx\r\n")
    sent = mailbox(server, tls_ctx, ALICE, PASSWORD, "Sent")
    assert len(sent) == 1
    flags, body = sent[0]
    assert b"\\Seen" in flags
    assert b"Subject: keep me" in body and not body.startswith(b"Return-Path")
