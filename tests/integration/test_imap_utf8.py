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


UTF8_MSG = ("From: Jürgen <j@example.test>\r\nSubject: Grüße\r\n\r\n"
            "Hallo\r\n").encode()


def append(r, tag, prefix, msg):
    """APPEND with a non-synchronizing literal; returns the tagged line."""
    r.send(tag + b" APPEND INBOX " + prefix % len(msg) + b"\r\n" + msg +
           (b")" if prefix.endswith(b"(~{%d+}") else b"") + b"\r\n")
    return r.until_tagged(tag)[-1]


def test_append_utf8_and_literal8(server, tls_ctx):
    r = session(server, tls_ctx)
    u, t = cmd(r, b"c", b"CAPABILITY")
    assert b" UTF8=ACCEPT" in u[0] and b" BINARY" in u[0]
    # RFC 6855 4: an IMAP4rev1 session that did not ENABLE UTF8=ACCEPT
    # gets NO for 8-bit header fields, in either form of literal...
    t = append(r, b"a1", b"{%d+}", UTF8_MSG)
    assert t.startswith(b"a1 NO "), t
    # ...but the UTF8 data extension is always understood.
    t = append(r, b"a2", b"UTF8 (~{%d+}", UTF8_MSG)
    assert t.startswith(b"a2 OK [APPENDUID "), t
    # An 8-bit body with an ASCII header is fine, as is a literal8 with
    # a NUL (RFC 3516 4.4: BINARY's APPEND).
    binary = b"Subject: bin\r\n\r\n\x00\x01\xff\r\n"
    t = append(r, b"a3", b"~{%d+}", binary)
    assert t.startswith(b"a3 OK"), t
    # UTF8 must wrap exactly one literal8.
    r.send(b"a4 APPEND INBOX UTF8 ({3+}\r\nabc)\r\n")
    assert r.until_tagged(b"a4")[-1].startswith(b"a4 BAD")
    _, t = cmd(r, b"e", b"ENABLE UTF8=ACCEPT")
    t = append(r, b"a5", b"{%d+}", UTF8_MSG)
    assert t.startswith(b"a5 OK"), t

    # What arrived is byte for byte what was sent.
    _, t = cmd(r, b"s", b"SELECT INBOX")
    assert t.startswith(b"s OK")
    for seq, want in ((b"1", UTF8_MSG), (b"2", binary), (b"3", UTF8_MSG)):
        r.send(b"f FETCH " + seq + b" BODY.PEEK[]\r\n")
        head = r.line()
        assert head.endswith(b"{%d}" % len(want)), head
        assert r.read_exact(len(want)) == want
        assert r.until_tagged(b"f")[-1].startswith(b"f OK")

    # IMAP4rev2 takes 8-bit header fields in any APPEND (RFC 9051 6.3.12).
    r2 = session(server, tls_ctx)
    cmd(r2, b"e", b"ENABLE IMAP4rev2")
    t = append(r2, b"a6", b"{%d+}", UTF8_MSG)
    assert t.startswith(b"a6 OK"), t
