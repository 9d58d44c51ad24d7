"""SEARCH, ESEARCH, SEARCHRES, WITHIN, SORT and THREAD (RFC 9051 6.4.4,
RFC 4731, 5182, 5032, 5256) against a mailbox of five known messages."""
import imaplib
import re

from test_imap import logged_in


def msg(subject, frm, to, date, body, extra=""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\n{extra}\r\n{body}\r\n").encode()


MSGS = [
    # (message, flags, internal date)
    (msg("Hello world", "Carol <carol@c.example>", "x@y.example",
         "Mon, 01 Jan 2024 10:00:00 +0000", "first body apple",
         "Message-ID: <m1@x>\r\n"),
     r"(\Seen)", '"01-Jan-2024 10:00:00 +0000"'),
    (msg("Re: Hello world", "Bob <bob@b.example>", "x@y.example",
         "Tue, 02 Jan 2024 10:00:00 +0000", "second body banana",
         "Message-ID: <m2@x>\r\nIn-Reply-To: <m1@x>\r\n"
         "References: <m1@x>\r\n"),
     r"(\Flagged)", '"02-Jan-2024 10:00:00 +0000"'),
    (msg("Other topic", "Alice <alice@a.example>", "z@y.example",
         "Wed, 03 Jan 2024 10:00:00 +0000", "third body cherry " * 50,
         "Message-ID: <m3@x>\r\n"),
     r"(\Seen \Answered)", '"03-Jan-2024 10:00:00 +0000"'),
    (msg("Re: Hello world", "Dave <dave@d.example>", "x@y.example",
         "Thu, 04 Jan 2024 10:00:00 +0000", "fourth body apple",
         "Message-ID: <m4@x>\r\nIn-Reply-To: <m2@x>\r\n"
         "References: <m1@x> <m2@x>\r\n"),
     r"()", '"04-Jan-2024 10:00:00 +0000"'),
    (msg("Zebra", "Eve <eve@e.example>", "x@y.example",
         "Fri, 05 Jan 2024 10:00:00 +0000", "fifth",
         "Message-ID: <m5@x>\r\n"),
     r"(\Deleted)", '"05-Jan-2024 10:00:00 +0000"'),
]


def filled(server, tls_ctx):
    m = logged_in(server, tls_ctx)
    for data, flags, date in MSGS:
        assert m.append("INBOX", flags, date, data)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    return m


def search(m, *keys, uid=False):
    typ, data = (m.uid("SEARCH", *keys) if uid else m.search(None, *keys))
    assert typ == "OK", data
    return [int(x) for x in data[0].split()] if data and data[0] else []


def test_search_keys(server, tls_ctx):
    m = filled(server, tls_ctx)
    assert search(m, "ALL") == [1, 2, 3, 4, 5]
    assert search(m, "SEEN") == [1, 3]
    assert search(m, "UNSEEN") == [2, 4, 5]
    assert search(m, "FLAGGED") == [2]
    assert search(m, "ANSWERED") == [3]
    assert search(m, "DELETED") == [5]
    assert search(m, "UNDELETED", "UNSEEN") == [2, 4]
    assert search(m, "OR", "FLAGGED", "DELETED") == [2, 5]
    assert search(m, "NOT", "SEEN") == [2, 4, 5]
    assert search(m, "(SEEN ANSWERED)") == [3]
    assert search(m, "2:4") == [2, 3, 4]
    assert search(m, "*") == [5]
    assert search(m, "UID", "1,3") == [1, 3]
    assert search(m, "SUBJECT", "hello") == [1, 2, 4]
    assert search(m, "FROM", "bob") == [2]
    assert search(m, "TO", "z@y") == [3]
    assert search(m, "HEADER", "Message-ID", "m4@x") == [4]
    assert search(m, "BODY", "apple") == [1, 4]
    assert search(m, "TEXT", "banana") == [2]
    assert search(m, "LARGER", "500") == [3]
    assert search(m, "SMALLER", "500") == [1, 2, 4, 5]
    assert search(m, "BEFORE", "03-Jan-2024") == [1, 2]
    assert search(m, "SINCE", "04-Jan-2024") == [4, 5]
    assert search(m, "ON", "02-Jan-2024") == [2]
    assert search(m, "SENTON", "03-Jan-2024") == [3]
    assert search(m, "SENTBEFORE", "02-Jan-2024") == [1]
    assert search(m, "SENTSINCE", "05-Jan-2024") == [5]
    # RFC 3501 \Recent: nothing is recent in this server's view.
    assert search(m, "RECENT") == [] and search(m, "NEW") == []
    assert search(m, "OLD") == [1, 2, 3, 4, 5]
    assert search(m, "KEYWORD", "$Junk") == []
    assert search(m, "CHARSET", "UTF-8", "SUBJECT", "zebra") == [5]
    # WITHIN (RFC 5032): internal dates are in 2024.
    assert search(m, "OLDER", "3600") == [1, 2, 3, 4, 5]
    assert search(m, "YOUNGER", "3600") == []


def test_uid_search_and_errors(server, tls_ctx):
    m = filled(server, tls_ctx)
    m.store("1", "+FLAGS", r"(\Deleted)")
    m.expunge()  # message 5 was \Deleted too
    assert search(m, "ALL") == [1, 2, 3]
    assert search(m, "ALL", uid=True) == [2, 3, 4]
    assert search(m, "1", uid=True) == [2]
    assert search(m, "2:*") == [2, 3]
    assert search(m, "UID", "3:*", uid=True) == [3, 4]
    typ, data = m._simple_command("SEARCH", "CHARSET", "KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    for bad in (["FROBNICATE"], ["BEFORE", "31-Foo-2024"], ["OR", "SEEN"],
                ["LARGER", "x"], ["NOT"]):
        with pytest_raises():
            m.search(None, *bad)
    deep = "NOT " * 100 + "ALL"
    typ, data = cmd(m, "SEARCH", deep)
    assert typ == "BAD" and b"LIMIT" in data[0]


class pytest_raises:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        assert kind is not None and issubclass(kind, imaplib.IMAP4.error)
        return True


def cmd(m, *args):
    """Runs a command; returns (status, data) also for BAD."""
    try:
        return m._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return "BAD", [str(e).encode()]


def untagged(m, name):
    return [x.decode() if isinstance(x, bytes) else x
            for x in m.untagged_responses.pop(name, [])]


def test_esearch_and_searchres(server, tls_ctx):
    m = filled(server, tls_ctx)
    typ, _ = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)",
                               "UNSEEN")
    assert typ == "OK"
    assert untagged(m, "ESEARCH")[-1].endswith(
        "MIN 2 MAX 5 COUNT 3 ALL 2,4:5")
    typ, _ = m._simple_command("UID", "SEARCH", "RETURN", "()", "SEEN")
    assert re.search(r"\) UID ALL 1,3$", untagged(m, "ESEARCH")[-1])
    typ, _ = m._simple_command("SEARCH", "RETURN", "(COUNT)", "DRAFT")
    assert untagged(m, "ESEARCH")[-1].endswith("COUNT 0")
    # SAVE alone: no ESEARCH, then "$" works in FETCH, STORE and SEARCH.
    typ, _ = m._simple_command("SEARCH", "RETURN", "(SAVE)", "SEEN")
    assert typ == "OK" and untagged(m, "ESEARCH") == []
    typ, data = m.fetch("$", "(UID)")
    assert typ == "OK" and [d.decode() for d in data] == [
        "1 (UID 1)", "3 (UID 3)"]
    assert search(m, "$", "ANSWERED") == [3]
    assert search(m, "UID", "$") == [1, 3]
    # SAVE with MIN only keeps the lowest.
    m._simple_command("SEARCH", "RETURN", "(SAVE MIN)", "UNSEEN")
    assert search(m, "$") == [2]
    # A failed SAVE empties "$".
    assert cmd(m, "SEARCH", "RETURN", "(SAVE)", "FROBNICATE")[0] == "BAD"
    assert search(m, "$") == []
    # IMAP4rev2 answers ESEARCH by default.
    imaplib.Commands["ENABLE"] = ("AUTH", "SELECTED")  # RFC 5161 allows
    typ, data = m._simple_command("ENABLE", "IMAP4rev2")
    m._simple_command("SEARCH", "FLAGGED")
    assert untagged(m, "ESEARCH")[-1].endswith(") ALL 2")
    m._simple_command("SEARCH", "DRAFT")
    assert re.fullmatch(r'\(TAG "[A-Z0-9]+"\)', untagged(m, "ESEARCH")[-1])


def test_sort(server, tls_ctx):
    m = filled(server, tls_ctx)

    def sort(crit, *keys, uid=False):
        args = ["SORT", f"({crit})", "UTF-8", *(keys or ["ALL"])]
        typ, _ = m._simple_command("UID", *args) if uid else \
            m._simple_command(*args)
        assert typ == "OK"
        return [int(x) for x in untagged(m, "SORT")[-1].split()]

    assert sort("FROM") == [3, 2, 1, 4, 5]
    assert sort("REVERSE FROM") == [5, 4, 1, 2, 3]
    assert sort("SUBJECT") == [1, 2, 4, 3, 5]
    assert sort("SUBJECT REVERSE DATE") == [4, 2, 1, 3, 5]
    assert sort("SIZE") [-1] == 3
    assert sort("REVERSE ARRIVAL") == [5, 4, 3, 2, 1]
    assert sort("DISPLAYFROM") == [3, 2, 1, 4, 5]
    assert sort("TO", "UNSEEN") == [2, 4, 5]
    assert sort("DATE", "SEEN", uid=True) == [1, 3]
    typ, _ = cmd(m, "SORT", "(FROBNICATE)", "UTF-8", "ALL")
    assert typ == "BAD"


def test_thread(server, tls_ctx):
    m = filled(server, tls_ctx)

    def thread(alg):
        typ, _ = m._simple_command("THREAD", alg, "UTF-8", "ALL")
        assert typ == "OK"
        return untagged(m, "THREAD")[-1]

    assert thread("REFERENCES") == "(1 2 4)(3)(5)"
    assert thread("ORDEREDSUBJECT") == "(1 (2)(4))(3)(5)"
    typ, _ = cmd(m, "THREAD", "FOO", "UTF-8", "ALL")
    assert typ == "BAD"
