"""The store's search index and message cache seen through IMAP (issue 3):
text decoded from transfer encodings and charsets, copies searchable
without a re-parse, FETCH ENVELOPE/BODYSTRUCTURE from the cache, and an
index of schema version 2 upgraded in place."""
import glob
import os
import sqlite3

from test_imap import logged_in

LATIN1_QP = (b"From: Bob <bob@example.test>\r\n"
             b"To: alice@example.test\r\n"
             b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\n"
             b"Date: Tue, 10 Jan 2023 23:30:00 -0500\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: text/plain; charset=iso-8859-1\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n"
             b"\r\n"
             b"Sch=F6ne Gr=FC=DFe aus K=F6ln\r\n")

B64_MULTI = (b"From: carol@example.test\r\n"
             b"Subject: files\r\n"
             b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
             b"\r\n"
             b"--b1\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"\r\n"
             b"U2VjcmV0IHBhc3N3b3JkIGlzIHN3b3JkZmlzaA0K\r\n"
             b"--b1\r\n"
             b"Content-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"\r\n"
             b"aGlkZGVud29yZA==\r\n"
             b"--b1--\r\n")

PLAIN = (b"From: Alice <alice@example.test>\r\n"
         b"Subject: plain\r\n"
         b"\r\n"
         b"The zebra crossing.\r\n")


def filled(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    for data in (LATIN1_QP, B64_MULTI, PLAIN):
        assert m.append("INBOX", None, None, data)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    return m


def usearch(m, *keys, charset=None):
    typ, data = m.uid("SEARCH", *keys) if charset is None else \
        m.uid("SEARCH", "CHARSET", charset, *keys)
    assert typ == "OK", data
    return [int(x) for x in data[0].split()] if data and data[0] else []


def utf8_search(m, key, text):
    """SEARCH CHARSET UTF-8 key {n}text through a literal."""
    m.literal = text.encode()
    return usearch(m, key, charset="UTF-8")


def test_decoded_text_is_searchable(server, tls_ctx):
    m = filled(server, tls_ctx)
    assert utf8_search(m, "BODY", "grüße aus köln") == [1]
    assert utf8_search(m, "SUBJECT", "grüße") == [1]
    assert usearch(m, "BODY", "swordfish") == [2]
    assert usearch(m, "BODY", "hiddenword") == []  # not a text part
    assert usearch(m, "TEXT", "ZEBRA") == [3]
    assert usearch(m, "BODY", "ze") == [3]  # under 3 characters
    assert usearch(m, "FROM", "carol") == [2]
    assert usearch(m, "NOT", "BODY", "zebra") == [1, 2]
    assert usearch(m, "OR", "BODY", "swordfish", "FROM", "bob") == [1, 2]
    # FTS syntax in the value is text, never a query.
    assert usearch(m, "BODY", '"zebra OR swordfish"') == []
    assert usearch(m, "BODY", '"zebra*"') == []


def test_fetch_from_cache_matches_parse(server, tls_ctx):
    m = filled(server, tls_ctx)
    typ, data = m.uid("FETCH", "1:3", "(ENVELOPE BODYSTRUCTURE BODY)")
    assert typ == "OK"
    cached = [d for d in data if isinstance(d, bytes)]
    assert b'"text" "plain" ("charset" "iso-8859-1") NIL NIL ' \
           b'"quoted-printable"' in cached[0]
    assert b'ENVELOPE ("Tue, 10 Jan 2023 23:30:00 -0500" ' \
           b'"=?ISO-8859-1?Q?Gr=FC=DFe?=" (("Bob" NIL "bob" ' \
           b'"example.test"))' in cached[0]
    assert b'"mixed" ("boundary" "b1")' in cached[1]
    # A section makes FETCH parse the message: the same text either way.
    typ, data2 = m.uid("FETCH", "1:3",
                       "(ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER])")
    assert typ == "OK"
    parsed = [d[0] for d in data2 if isinstance(d, tuple)]
    assert len(parsed) == 3
    for c, p in zip(cached, parsed):
        assert c.endswith(b")")
        assert c[:-1] == p.split(b" BODY[HEADER] {")[0]


def test_copy_and_move_keep_the_index(server, tls_ctx):
    m = filled(server, tls_ctx)
    assert m.uid("COPY", "2", "Archive")[0] == "OK"
    assert m.uid("MOVE", "3", "Junk")[0] == "OK"
    assert usearch(m, "BODY", "zebra") == []
    assert m.select("Archive")[0] == "OK"
    assert usearch(m, "BODY", "swordfish") == [1]
    typ, data = m.uid("FETCH", "1", "(BODYSTRUCTURE)")
    assert b'"mixed" ("boundary" "b1")' in data[0]
    assert m.select("Junk")[0] == "OK"
    assert usearch(m, "TEXT", "zebra") == [1]
    m.logout()


def downgrade_to_schema_2(index):
    """What an index written before the cache existed looks like."""
    db = sqlite3.connect(index)
    db.executescript(
        "DROP TRIGGER messages_blob_gone; DROP TABLE msg_data;"
        "DROP TRIGGER messages_cache_missing;"
        "DROP TRIGGER messages_cache_gone; DROP TABLE fts_gone;"
        "DROP TABLE msg_cache;"
        "DELETE FROM meta WHERE key IN ('cache_missing', 'fts_epoch');"
        "DROP TABLE keywords; ALTER TABLE messages DROP COLUMN savedate;"
        "PRAGMA user_version = 2;")
    db.commit()
    db.close()


def test_upgrade_from_schema_2(server, tls_ctx):
    # Blob files, as every message was before version 7.
    server.stop()
    server.configure(store_inline_max="0")
    server.start()
    m = filled(server, tls_ctx)
    m.logout()
    server.stop()
    index = glob.glob(str(server.data / "users/*/alice*/index.db"))[0]
    blobs = os.listdir(os.path.join(os.path.dirname(index), "blobs"))
    assert len([b for b in blobs if len(b) == 32]) == 3
    downgrade_to_schema_2(index)
    server.start()
    m = logged_in(server, tls_ctx)
    assert m.select("INBOX")[0] == "OK"
    # Without rows FETCH parses; the first search fills the cache in.
    typ, data = m.uid("FETCH", "2", "(BODYSTRUCTURE)")
    assert typ == "OK" and b'"mixed" ("boundary" "b1")' in data[0]
    assert usearch(m, "BODY", "swordfish") == [2]
    assert utf8_search(m, "BODY", "schöne") == [1]
    m.logout()
    db = sqlite3.connect(index)
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 4
    # Version 4: rows from before take their internal date as save date.
    assert db.execute("SELECT count(*) FROM messages WHERE savedate IS NULL"
                      " OR savedate != internaldate").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM msg_cache").fetchone()[0] == 3
    assert db.execute("SELECT value FROM meta WHERE key = 'cache_missing'"
                      ).fetchone()[0] == 0
    db.close()
