"""IMAP mailbox management against the store: CREATE (with
CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, LIST with
LIST-EXTENDED selection and RETURN options (LIST-STATUS), LSUB, NAMESPACE,
STATUS and the quota commands."""
import imaplib
import re

import pytest

from conftest import DOMAIN, run_cli
from test_imap import ALICE, logged_in, deliver


def list_lines(m, *args):
    typ, data = m._simple_command("LIST", *args)
    assert typ == "OK", data
    _, lines = m._untagged_response(typ, data, "LIST")
    return [l for l in lines if l is not None]


def names_of(lines):
    out = {}
    for l in lines:
        mt = re.match(rb'\((.*?)\) "/" "?(.*?)"?( \(.*\))?$', l)
        out[mt.group(2).decode()] = mt.group(1).decode().split()
    return out


def test_capabilities_after_login(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m.capability()
    caps = data[0].decode().split()
    for c in ("IDLE", "NAMESPACE", "UIDPLUS", "MOVE", "CHILDREN",
              "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED",
              "LIST-STATUS", "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE",
              "QUOTA=RES-MESSAGE", "APPENDLIMIT=52428800"):
        assert c in caps
    m.logout()


def test_create_delete_rename_list(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    assert m.create("Work/Projects/2024")[0] == "OK"
    boxes = names_of(list_lines(m, '""', '"*"'))
    assert "\\HasChildren" in boxes["Work"]
    assert "\\HasChildren" in boxes["Work/Projects"]
    assert "\\HasNoChildren" in boxes["Work/Projects/2024"]
    assert "\\Sent" in boxes["Sent"] and "\\Trash" in boxes["Trash"]
    typ, data = m.create("Work")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    typ, data = m.create("bad//name")
    assert typ == "NO" and b"[CANNOT]" in data[0]
    # % stops at the delimiter.
    assert set(names_of(list_lines(m, '""', '"Work/%"'))) == {"Work/Projects"}
    assert set(names_of(list_lines(m, '"Work/"', '"*"'))) == {
        "Work/Projects", "Work/Projects/2024"}
    # A mailbox with children cannot go; INBOX never.
    typ, data = m.delete("Work/Projects")
    assert typ == "NO"
    assert m.delete("INBOX")[0] == "NO"
    assert m.rename("Work", "Job/Old")[0] == "OK"
    boxes = names_of(list_lines(m, '""', '"*"'))
    assert "Work" not in boxes and "Job/Old/Projects/2024" in boxes
    assert "Job" in boxes
    typ, data = m.rename("Job", "Sent")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    typ, data = m.rename("Nope", "Other")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    assert m.delete("Job/Old/Projects/2024")[0] == "OK"
    typ, data = m.select("Job/Old/Projects/2024")
    assert typ == "NO"
    typ, data = m.delete("Job/Old/Projects/2024")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    # LIST "" "" gives the delimiter.
    assert list_lines(m, '""', '""') == [b'(\\Noselect) "/" ""']
    m.logout()


def test_rename_inbox_moves_messages(server, tls_ctx):
    deliver(server)
    m = logged_in(server, tls_ctx)
    assert m.rename("INBOX", "Saved")[0] == "OK"
    assert m.select("INBOX")[1] == [b"0"]
    assert m.select("Saved")[1] == [b"1"]
    m.logout()


def test_create_special_use(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m._simple_command("CREATE", "Old", "(USE (\\Archive))")
    assert typ == "OK", data
    typ, data = m._simple_command("CREATE", "Odd", "(USE (\\Important))")
    assert typ == "NO" and b"[USEATTR]" in data[-1]
    lines = list_lines(m, "(SPECIAL-USE)", '""', '"*"')
    boxes = names_of(lines)
    assert "\\Archive" in boxes["Old"]
    assert "INBOX" not in boxes and "Odd" not in boxes
    assert set(boxes) == {"Archive", "Drafts", "Junk", "Old", "Sent",
                          "Trash"}
    m.logout()


def test_subscribe_lsub_list_extended(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    m.create("Lists/rust")
    m.create("Lists/go")
    assert m.unsubscribe("Lists/go")[0] == "OK"
    assert m.unsubscribe("Lists")[0] == "OK"
    assert m.unsubscribe("Nope")[0] == "NO"
    typ, data = m.lsub('""', "Lists/*")
    assert typ == "OK" and len(data) == 1 and b"Lists/rust" in data[0]
    assert m.subscribe("Lists/go")[0] == "OK"
    boxes = names_of(list_lines(m, "(SUBSCRIBED)", '""', '"Lists*"'))
    assert set(boxes) == {"Lists/go", "Lists/rust"}
    assert "\\Subscribed" in boxes["Lists/go"]
    # RECURSIVEMATCH: the unsubscribed parent with CHILDINFO.
    lines = list_lines(m, "(SUBSCRIBED RECURSIVEMATCH)", '""', '"%"')
    parent = [l for l in lines if l.endswith(b'("CHILDINFO" ("SUBSCRIBED"))')]
    assert len(parent) == 1 and b'"Lists"' in parent[0]
    # RETURN (SUBSCRIBED) marks without filtering.
    boxes = names_of(list_lines(m, '""', '"Lists*"', "RETURN", "(SUBSCRIBED)"))
    assert "\\Subscribed" not in boxes["Lists"]
    assert "\\Subscribed" in boxes["Lists/rust"]
    with pytest.raises(imaplib.IMAP4.error, match="Invalid LIST"):
        m._simple_command("LIST", "(BOGUS)", '""', '"*"')
    m.logout()


def test_list_status_and_status(server, tls_ctx):
    deliver(server)
    m = logged_in(server, tls_ctx)
    typ, data = m._simple_command("LIST", '""', "(INBOX Sent)", "RETURN",
                                  "(STATUS (MESSAGES UNSEEN SIZE))")
    assert typ == "OK"
    status = m.untagged_responses.pop("STATUS")
    inbox = [s for s in status if s.startswith(b'"INBOX"')][0]
    assert b"MESSAGES 1" in inbox and b"UNSEEN 1" in inbox
    assert re.search(rb"SIZE [1-9]\d*", inbox)
    assert any(s.startswith(b'"Sent" (MESSAGES 0') for s in status)
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
                                  "SIZE RECENT)")
    assert typ == "OK"
    assert re.search(rb"MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 "
                     rb"SIZE \d+ RECENT 0", data[0])
    with pytest.raises(imaplib.IMAP4.error, match="Unknown STATUS item"):
        m.status("INBOX", "(BOGUS)")
    m.logout()


def test_namespace(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m.namespace()
    assert typ == "OK" and data == [b'(("" "/")) NIL NIL']
    m.logout()


def test_quota_commands(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK" and data[0] == [b'"INBOX"']
    m.logout()
    run_cli("user", "set", ALICE, "quota=10K", data=server.data)
    run_cli("user", "set", ALICE, "quota_messages=5", data=server.data)
    deliver(server)
    m = logged_in(server, tls_ctx)
    typ, data = m.getquotaroot("INBOX")
    assert typ == "OK"
    assert data[0] == [b'"INBOX" ""']
    assert data[1] == [b'"" (STORAGE 1 10 MESSAGE 1 5)']
    typ, data = m.getquota('""')
    assert typ == "OK" and data == [b'"" (STORAGE 1 10 MESSAGE 1 5)']
    typ, data = m.setquota('""', "(STORAGE 100)")
    assert typ == "NO" and b"[NOPERM]" in data[0]
    m.logout()
