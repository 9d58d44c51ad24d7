"""Mailbox names on the wire: modified UTF-7 for IMAP4rev1 sessions
(RFC 3501 5.1.3), UTF-8 after ENABLE IMAP4rev2 or UTF8=ACCEPT (RFC 9051
5.1, RFC 6855 3); the store keeps one UTF-8 name for both."""
from test_imap import ALICE, PASSWORD, Raw

ENTWUERFE = "Entwürfe/日本語".encode()
ENTWUERFE_7 = b"Entw&APw-rfe/&ZeVnLIqe-"


def session(server, tls_ctx):
    r = Raw(server, "imaps", tls_ctx)
    assert r.line().startswith(b"* OK")
    r.send(b'a LOGIN "%s" "%s"\r\n' % (ALICE.encode(), PASSWORD.encode()))
    assert r.until_tagged(b"a")[-1].startswith(b"a OK")
    return r


def cmd(r, tag, line):
    r.send(tag + b" " + line + b"\r\n")
    lines = r.until_tagged(tag)
    return lines[:-1], lines[-1]


def test_modified_utf7_in_and_out(server, tls_ctx):
    r = session(server, tls_ctx)
    _, t = cmd(r, b"c1", b'CREATE "' + ENTWUERFE_7 + b'"')
    assert t.startswith(b"c1 OK"), t
    # The rev1 client sees modified UTF-7 in LIST, LSUB, STATUS.
    u, t = cmd(r, b"c2", b'LIST "" "Entw*"')
    assert t.startswith(b"c2 OK")
    assert b'* LIST (\\HasChildren) "/" "Entw&APw-rfe"' in u
    assert b'* LIST (\\HasNoChildren) "/" "' + ENTWUERFE_7 + b'"' in u
    # A pattern in modified UTF-7 matches the encoded names.
    u, t = cmd(r, b"c3", b'LIST "" "Entw&APw-rfe/%"')
    assert u == [b'* LIST (\\HasNoChildren) "/" "' + ENTWUERFE_7 + b'"']
    u, t = cmd(r, b"c4", b'STATUS "' + ENTWUERFE_7 + b'" (MESSAGES)')
    assert u == [b'* STATUS "' + ENTWUERFE_7 + b'" (MESSAGES 0)'], u
    _, t = cmd(r, b"c5", b'SUBSCRIBE "' + ENTWUERFE_7 + b'"')
    assert t.startswith(b"c5 OK")
    u, _ = cmd(r, b"c6", b'LSUB "" "*"')
    assert b'* LSUB (\\HasNoChildren) "/" "' + ENTWUERFE_7 + b'"' in u
    _, t = cmd(r, b"c7", b'SELECT "' + ENTWUERFE_7 + b'"')
    assert t.startswith(b"c7 OK [READ-WRITE]"), t
    _, t = cmd(r, b"c8", b'RENAME "' + ENTWUERFE_7 + b'" "&AOk-t&AOk-"')
    assert t.startswith(b"c8 OK"), t
    u, _ = cmd(r, b"c9", b'LIST "" "*t&AOk-"')
    assert u == [b'* LIST (\\HasNoChildren) "/" "&AOk-t&AOk-"']

    # A UTF-8 session (IMAP4rev2) sees the same mailbox by its UTF-8 name.
    r2 = session(server, tls_ctx)
    u, t = cmd(r2, b"e", b"ENABLE IMAP4rev2")
    assert u == [b"* ENABLED IMAP4rev2"]
    u, _ = cmd(r2, b"l", b'LIST "" "*t\xc3\xa9"')
    assert u == [b'* LIST (\\HasNoChildren) "/" "\xc3\xa9t\xc3\xa9"'], u
    u, t = cmd(r2, b"s", b'SELECT "' + "Entwürfe".encode() + b'"')
    assert t.startswith(b"s OK"), t
    assert b'* LIST () "/" "Entw\xc3\xbcrfe"' in u
    # ...and a rev2 session takes "&" literally.
    _, t = cmd(r2, b"c", b'CREATE "R&D"')
    assert t.startswith(b"c OK")
    u, _ = cmd(r, b"c10", b'LIST "" "R*"')
    assert u == [b'* LIST (\\HasNoChildren) "/" "R&-D"'], u
    r.close()
    r2.close()


def test_invalid_names_refused(server, tls_ctx):
    r = session(server, tls_ctx)
    for i, name in enumerate([b'"&AOk"', b'"&AGE-"', b'"&AOk-&AOk-"',
                              b'"&2D3c-"', b'"&AAA-"', b'{2+}\r\n\xc3\xa9']):
        tag = b"b%d" % i
        _, t = cmd(r, tag, b"CREATE " + name)
        assert t.startswith(tag + b" NO [CANNOT]"), (name, t)
    _, t = cmd(r, b"x1", b'SELECT "&AOk"')
    assert t == b'x1 NO [CANNOT] Modified UTF-7 run not closed by "-"'
    _, t = cmd(r, b"x2", b'CREATE "Caf\xc3\xa9"')
    assert b"modified UTF-7" in t and t.startswith(b"x2 NO"), t
    # UTF8=ACCEPT: UTF-8 names are taken, invalid UTF-8 is refused.
    u, _ = cmd(r, b"e", b"ENABLE UTF8=ACCEPT")
    assert u == [b"* ENABLED UTF8=ACCEPT"]
    _, t = cmd(r, b"u1", b'CREATE "Caf\xc3\xa9"')
    assert t.startswith(b"u1 OK"), t
    _, t = cmd(r, b"u2", b'CREATE "Caf\xc3"')
    assert t == b"u2 NO [CANNOT] Mailbox name is not valid UTF-8"
    _, t = cmd(r, b"u3", b'CREATE "a\xc2\x85b"')
    assert t.startswith(b"u3 NO [CANNOT] Control characters"), t
    u, _ = cmd(r, b"u4", b'LIST "" "Caf*"')
    assert u == [b'* LIST (\\HasNoChildren) "/" "Caf\xc3\xa9"']
    # The connection is still usable after every refusal.
    _, t = cmd(r, b"n", b"NOOP")
    assert t.startswith(b"n OK")
    r.close()
