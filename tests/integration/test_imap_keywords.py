"""Keywords (RFC 9051 2.3.2), SAVEDATE (RFC 8514) and OBJECTID (RFC 8474)
FETCH items, and the full-text index filled in the background after
delivery."""
import imaplib
import re
import time

import pytest

from test_imap import BODY, logged_in


def flags_of(data):
    """The FLAGS list of each FETCH response in imaplib's data, by UID."""
    out = {}
    for item in data:
        text = item[0] if isinstance(item, tuple) else item
        if not text:
            continue
        text = text.decode()
        uid = re.search(r"UID (\d+)", text)
        flags = re.search(r"FLAGS \(([^)]*)\)", text)
        if uid and flags:
            out[int(uid.group(1))] = set(flags.group(1).split())
    return out


def test_store_append_copy_keywords(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    assert m.append("INBOX", r"(\Seen $Forwarded Work)", None, BODY)[0] == "OK"
    assert m.append("INBOX", None, None, BODY)[0] == "OK"
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
    assert typ == "OK"
    assert flags_of(data) == {1: {"\\Seen", "$Forwarded", "Work"}, 2: set()}

    # +FLAGS creates a new keyword; the STORE reply shows it.
    typ, data = m.uid("STORE", "2", "+FLAGS", "(Todo $forwarded)")
    assert typ == "OK"
    assert flags_of(data) == {2: {"Todo", "$Forwarded"}}
    # -FLAGS removes only that keyword; FLAGS replaces everything.
    typ, data = m.uid("STORE", "1", "-FLAGS", "(Work)")
    assert flags_of(data) == {1: {"\\Seen", "$Forwarded"}}
    typ, data = m.uid("STORE", "1", "FLAGS", r"(\Flagged Todo)")
    assert flags_of(data) == {1: {"\\Flagged", "Todo"}}

    # COPY keeps keywords; a second session sees them.
    assert m.uid("COPY", "1:2", "Archive")[0] == "OK"
    m2 = logged_in(server, tls_ctx)
    m2.select("Archive")
    typ, data = m2.fetch("1:*", "(UID FLAGS)")
    assert sorted(map(frozenset, flags_of(data).values()), key=len) == [
        frozenset({"\\Flagged", "Todo"}),
        frozenset({"Todo", "$Forwarded"}),
    ]
    m2.logout()

    # Bad keywords get BAD, the session goes on.
    for bad in ("(a%b)", "(" + "k" * 101 + ")", r"(\Bogus)"):
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            m.uid("STORE", "1", "+FLAGS", bad)
    assert m.noop()[0] == "OK"
    m.logout()


def test_keyword_limit(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    assert m.append("INBOX", None, None, BODY)[0] == "OK"
    m.select("INBOX")
    names = " ".join(f"kw{i}" for i in range(27))
    assert m.uid("STORE", "1", "+FLAGS", f"({names})")[0] == "OK"
    typ, data = m.uid("STORE", "1", "+FLAGS", "(one-more)")
    assert typ == "NO" and b"[LIMIT]" in data[0]
    # Removing an unknown keyword is not an error.
    assert m.uid("STORE", "1", "-FLAGS", "(never-seen)")[0] == "OK"
    typ, data = m.uid("FETCH", "1", "(FLAGS)")
    assert len(flags_of([b"UID 1 " + data[0]])[1]) == 27
    m.logout()


def test_savedate_emailid_threadid(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    typ, caps = m.capability()
    assert b"SAVEDATE" in caps[0].split() and b"OBJECTID" in caps[0].split()
    assert m.append("INBOX", None, '"01-Jan-2020 10:00:00 +0000"', BODY)[0] == "OK"
    assert m.append("INBOX", None, None, BODY)[0] == "OK"
    m.select("INBOX")
    assert m.uid("COPY", "1", "Trash")[0] == "OK"
    typ, data = m.uid("FETCH", "1:2", "(SAVEDATE EMAILID THREADID INTERNALDATE)")
    assert typ == "OK"
    text = b" ".join(d for d in data if isinstance(d, bytes)).decode()
    ids = re.findall(r"EMAILID \((M[0-9a-f]{32})\)", text)
    assert len(ids) == 2 and ids[0] != ids[1]
    assert text.count("THREADID NIL") == 2
    # The save date is now, not the internal date of 2020.
    saved = re.findall(r'SAVEDATE "(\d\d-\w\w\w-(\d{4}) [^"]*)"', text)
    year = time.gmtime().tm_year
    assert [int(y) for _, y in saved] == [year, year]
    assert 'INTERNALDATE "01-Jan-2020 10:00:00 +0000"' in text
    # A copy shares its EMAILID.
    m.select("Trash")
    typ, data = m.fetch("1", "(EMAILID)")
    assert re.search(rb"EMAILID \((M[0-9a-f]{32})\)", data[0]).group(1).decode() == ids[0]
    m.logout()


def test_search_right_after_burst(server, tls_ctx):
    """The background indexer leaves little for a search to index."""
    m = logged_in(server, tls_ctx)
    for i in range(30):
        body = BODY + (f"token{i:03d}xyz\r\n").encode()
        assert m.append("INBOX", None, None, body)[0] == "OK"
    m.select("INBOX")
    typ, data = m.uid("SEARCH", "BODY", "token029xyz")
    assert typ == "OK" and data[0].split() == [b"30"]
    typ, data = m.uid("SEARCH", "BODY", "token000xyz")
    assert data[0].split() == [b"1"]
    m.logout()


def test_search_keyword_savedate_and_select_flags(server, tls_ctx):
    import imaplib
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx)
    m.login("alice@example.test", "secret-alice")
    m.append("INBOX", None, None, b"Subject: k1\r\n\r\none\r\n")
    m.append("INBOX", None, None, b"Subject: k2\r\n\r\ntwo\r\n")
    m.select("INBOX")
    m.store("2", "+FLAGS", "($Important)")
    typ, data = m.search(None, "KEYWORD", "$Important")
    assert data[0].split() == [b"2"]
    typ, data = m.search(None, "UNKEYWORD", "$Important")
    assert data[0].split() == [b"1"]
    typ, data = m.search(None, "SAVEDSINCE", "1-Jan-2020")
    assert data[0].split() == [b"1", b"2"]
    typ, data = m.search(None, "SAVEDBEFORE", "1-Jan-2020")
    assert data[0].split() == []
    typ, data = m.search(None, "SAVEDATESUPPORTED")
    assert data[0].split() == [b"1", b"2"]
    # A new SELECT lists the keyword in FLAGS and allows new ones.
    m.select("INBOX")
    flags = m.untagged_responses.get("FLAGS", [b""])[-1]
    assert b"$Important" in flags
    assert any(b"\\*" in r for r in m.untagged_responses.get("OK", []))
    m.logout()


def test_mailboxid_in_select_status_and_after_rename(server, tls_ctx):
    import imaplib
    import re
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx)
    m.login("alice@example.test", "secret-alice")
    assert m.create("Projects")[0] == "OK"
    m.select("Projects")
    ok = b" ".join(m.untagged_responses.get("OK", []))
    sel = re.search(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", ok)
    assert sel, ok
    typ, data = m.status("Projects", "(MAILBOXID MESSAGES)")
    st = re.search(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", data[0])
    assert st and st.group(1) == sel.group(1)
    m.select("INBOX")
    typ, data = m.status("INBOX", "(MAILBOXID)")
    inbox = re.search(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", data[0]).group(1)
    assert inbox != sel.group(1)
    # RFC 8474 4.1: a renamed mailbox keeps its id.
    assert m.rename("Projects", "Archive2024")[0] == "OK"
    typ, data = m.status("Archive2024", "(MAILBOXID)")
    assert re.search(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)",
                     data[0]).group(1) == sel.group(1)
    m.logout()
