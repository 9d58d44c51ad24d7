"""CONDSTORE and QRESYNC (RFC 7162): HIGHESTMODSEQ, STORE UNCHANGEDSINCE
with [MODIFIED], SEARCH MODSEQ, MODSEQ in unsolicited FETCH, SELECT
(QRESYNC ...) with VANISHED (EARLIER), and VANISHED instead of EXPUNGE."""
import re

from test_imap import ALICE, BODY, PASSWORD, Raw, logged_in


def session(server, tls_ctx, enable=b"CONDSTORE QRESYNC"):
    raw = Raw(server, "imaps", tls_ctx, timeout=5)
    raw.line()
    raw.send(f"a LOGIN {ALICE} {PASSWORD}\r\n".encode())
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    if enable:
        raw.send(b"e ENABLE " + enable + b"\r\n")
        assert raw.until_tagged(b"e")[0] == b"* ENABLED " + enable
    return raw


def cmd(raw, tag, line):
    raw.send(tag + b" " + line + b"\r\n")
    return raw.until_tagged(tag)


def modseq_of(lines):
    for ln in lines:
        m = re.search(rb"HIGHESTMODSEQ (\d+)", ln)
        if m:
            return int(m.group(1))
    raise AssertionError(lines)


def fill(server, tls_ctx, n=4):
    m = logged_in(server, tls_ctx)
    for _ in range(n):
        assert m.append("INBOX", None, None, BODY)[0] == "OK"
    m.logout()


def test_condstore_store_search_status(server, tls_ctx):
    fill(server, tls_ctx)
    raw = session(server, tls_ctx, enable=None)
    st = cmd(raw, b"s", b"STATUS INBOX (MESSAGES HIGHESTMODSEQ)")
    hms = modseq_of(st)
    sel = cmd(raw, b"b", b"SELECT INBOX (CONDSTORE)")
    assert modseq_of(sel) == hms and sel[-1].startswith(b"b OK")
    out = cmd(raw, b"c", b"STORE 1 +FLAGS (\\Seen)")
    m = re.fullmatch(rb"\* 1 FETCH \(FLAGS \(\\Seen\) MODSEQ \((\d+)\)\)",
                     out[0])
    assert m and int(m.group(1)) == hms + 1, out
    new = int(m.group(1))
    # Message 2 is unchanged since hms, message 1 is not: MODIFIED 1.
    out = cmd(raw, b"d",
              b"STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Flagged)"
              % hms)
    assert out[-1].startswith(b"d OK [MODIFIED 1]"), out
    assert re.fullmatch(rb"\* 2 FETCH \(FLAGS \(\\Flagged\) MODSEQ "
                        rb"\(%d\)\)" % (new + 1), out[0]), out
    out = cmd(raw, b"f", b"UID SEARCH MODSEQ %d" % (new + 1))
    assert out[0] == b"* SEARCH 2 (MODSEQ %d)" % (new + 1), out
    out = cmd(raw, b"g", b"SEARCH RETURN (ALL) MODSEQ %d" % new)
    assert out[0].endswith(b"ALL 1:2 MODSEQ %d" % (new + 1)), out
    # Setting a flag that is set changes nothing: same mod-sequence.
    out = cmd(raw, b"h", b"STORE 2 +FLAGS (\\Flagged)")
    assert out[0].endswith(b"MODSEQ (%d))" % (new + 1)), out
    st = cmd(raw, b"i", b"STATUS INBOX (HIGHESTMODSEQ)")
    assert modseq_of(st) == new + 1


def test_other_session_flags_carry_modseq(server, tls_ctx):
    fill(server, tls_ctx, 2)
    watcher = session(server, tls_ctx)
    cmd(watcher, b"b", b"SELECT INBOX")
    other = logged_in(server, tls_ctx)
    other.select("INBOX")
    other.store("2", "+FLAGS", r"(\Answered)")
    out = cmd(watcher, b"n", b"NOOP")
    assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Answered\) "
                        rb"MODSEQ \(\d+\)\)", out[0]), out
    other.store("1", "+FLAGS", r"(\Deleted)")
    other.expunge()
    out = cmd(watcher, b"o", b"NOOP")
    assert b"* VANISHED 1" in out and not any(b"EXPUNGE" in x for x in out)


def test_qresync_select_and_vanished(server, tls_ctx):
    fill(server, tls_ctx, 5)
    raw = session(server, tls_ctx)
    sel = cmd(raw, b"b", b"SELECT INBOX")
    hms = modseq_of(sel)
    uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(sel)).group(1))
    cmd(raw, b"c", b"STORE 2 +FLAGS.SILENT (\\Seen)")
    cmd(raw, b"d", b"STORE 4,5 +FLAGS.SILENT (\\Deleted)")
    out = cmd(raw, b"e", b"EXPUNGE")
    assert out[0] == b"* VANISHED 4:5", out
    cmd(raw, b"f", b"UNSELECT")
    sel = cmd(raw, b"g", b"SELECT INBOX (QRESYNC (%d %d 1:5))" % (uv, hms))
    assert b"* VANISHED (EARLIER) 4:5" in sel, sel
    assert any(re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) "
                            rb"MODSEQ \(\d+\)\)", x) for x in sel), sel
    assert not any(b"UID 1 " in x or b"UID 3 " in x for x in sel)
    # Known UIDs limit VANISHED; a wrong UIDVALIDITY gives nothing.
    sel = cmd(raw, b"h", b"SELECT INBOX (QRESYNC (%d %d 1:4))" % (uv, hms))
    assert b"* VANISHED (EARLIER) 4" in sel
    sel = cmd(raw, b"i", b"SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, hms))
    assert not any(b"VANISHED" in x for x in sel)
    # Bad parameters are BAD; QRESYNC needs ENABLE first.
    assert cmd(raw, b"j", b"SELECT INBOX (QRESYNC (0 1))")[-1].startswith(
        b"j BAD")
    plain = session(server, tls_ctx, enable=None)
    assert cmd(plain, b"k", b"SELECT INBOX (QRESYNC (%d %d))" % (uv, hms)
               )[-1].startswith(b"k BAD")


def test_fetch_changedsince_modseq_and_vanished(server, tls_ctx):
    """FETCH (CHANGEDSINCE), the MODSEQ item and UID FETCH (VANISHED)."""
    import imaplib
    import re
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx)
    m.login("alice@example.test", "secret-alice")
    assert "CONDSTORE" in m.capabilities and "QRESYNC" in m.capabilities
    for i in range(3):
        m.append("INBOX", None, None, b"Subject: c%d\r\n\r\nbody\r\n" % i)
    m._simple_command("ENABLE", "QRESYNC")
    m.select("INBOX")
    typ, data = m.fetch("1:*", "(UID MODSEQ)")
    mods = [int(re.search(rb"MODSEQ \((\d+)\)", d).group(1)) for d in data]
    base = max(mods)
    m.store("2", "+FLAGS", "(\\Flagged)")
    typ, data = m.fetch("1:*", f"(FLAGS) (CHANGEDSINCE {base})")
    assert typ == "OK"
    changed = [d for d in data if d]
    assert len(changed) == 1 and b"\\Flagged" in changed[0]
    assert b"MODSEQ (" in changed[0]
    typ, data = m.uid("FETCH", "1:*", "(UID)")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    m.store("1", "+FLAGS", "(\\Deleted)")
    m.expunge()
    typ, data = m.uid("FETCH", f"1:{uids[-1]}",
                      f"(FLAGS) (CHANGEDSINCE {base} VANISHED)")
    assert typ == "OK"
    vanished = [r for r in m.untagged_responses.get("VANISHED", [])]
    assert any(str(uids[0]).encode() in v for v in vanished), vanished
    # CHANGEDSINCE with a bad value is a BAD, and the session goes on.
    import pytest
    with pytest.raises(imaplib.IMAP4.error):
        m.fetch("1", "(FLAGS) (CHANGEDSINCE x)")
    assert m.noop()[0] == "OK"
    m.logout()
