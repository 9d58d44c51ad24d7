"""Real POP3 clients against the server over POP3S: fetchmail and getmail6
(Debian packages), each downloading once leaving the mail on the server
and once deleting it, then checking over IMAP what remains.

The clients run with HOME in a temporary directory so they keep their
state (UIDL lists, lock files) there, and are skipped when not installed.
"""
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile

from pathlib import Path

import pytest

from test_pop3 import ALICE, PASSWORD, deliver, message
from test_pop3_choices import imap_subjects, user_set

SUBJECTS = ["client one", "client two", "client three"]


def deliver_all(server):
    for s in SUBJECTS:
        deliver(server, message(s, ["line 1", ".dot line", "line 3"]))


def inbox_count(server, tls_ctx, mailbox="INBOX"):
    m = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"),
                          ssl_context=tls_ctx, timeout=10)
    m.login(ALICE, PASSWORD)
    typ, data = m.select(mailbox, readonly=True)
    assert typ == "OK", data
    m.logout()
    return int(data[0])


def client_env(home):
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["FETCHMAILHOME"] = str(home)
    env["LC_ALL"] = "C"
    return env


# ---- fetchmail ----

def run_fetchmail(server, home, out, keep):
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no syslog\n"
        f"poll 127.0.0.1 service {server.port('pop3s')} proto POP3\n"
        f"  user \"{ALICE}\" there with password \"{PASSWORD}\"\n"
        "  ssl no sslcertck fetchall\n"
        f"  {'keep' if keep else 'no keep'}\n"
        f"  mda \"cat >> {out}\"\n")
    os.chmod(rc, 0o600)
    # fetchmail warns when run as root but works; --nodetach: foreground.
    res = subprocess.run(
        ["fetchmail", "-f", str(rc), "--nodetach", "--idfile",
         str(home / "fetchids"), "--pidfile", str(home / "fetchmail.pid")],
        env=client_env(home), capture_output=True, text=True, timeout=60)
    # 0: mail retrieved; anything else is a failure here.
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def fetched_subjects(out):
    return [l[len("Subject: "):] for l in out.read_text().splitlines()
            if l.startswith("Subject: ")]


@pytest.mark.skipif(shutil.which("fetchmail") is None,
                    reason="fetchmail not installed")
def test_fetchmail_keep_then_delete(server, tls_ctx, tmp_path):
    deliver_all(server)
    out = tmp_path / "fetched.mbox"
    run_fetchmail(server, tmp_path, out, keep=True)
    assert fetched_subjects(out) == SUBJECTS
    assert inbox_count(server, tls_ctx) == 3
    # fetchmail un-stuffs the dot lines: the body is byte for byte.
    assert "\n.dot line\n" in out.read_text()
    out.unlink()
    run_fetchmail(server, tmp_path, out, keep=False)
    assert fetched_subjects(out) == SUBJECTS
    assert inbox_count(server, tls_ctx) == 0


# ---- getmail6 ----

@pytest.fixture
def maildir(tmp_path):
    """An empty Maildir.  getmail refuses to deliver as root and needs a
    `user` to switch to then: the Maildir is made that user's, outside the
    root-only pytest directory."""
    if os.geteuid() != 0:
        path = tmp_path / "Maildir"
        path.mkdir()
        yield path
        return
    top = Path(tempfile.mkdtemp(prefix="postamt-getmail-"))
    os.chmod(top, 0o755)
    path = top / "Maildir"
    path.mkdir()
    yield path
    shutil.rmtree(top)


def make_maildir(maildir):
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for d in (maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(d, nobody.pw_uid, nobody.pw_gid)


def run_getmail(server, home, maildir, delete):
    make_maildir(maildir)
    rc = home / "getmailrc"
    rc.write_text(
        "[retriever]\n"
        "type = SimplePOP3SSLRetriever\n"
        "server = 127.0.0.1\n"
        f"port = {server.port('pop3s')}\n"
        f"username = {ALICE}\n"
        f"password = {PASSWORD}\n"
        "\n[destination]\n"
        "type = Maildir\n"
        f"path = {maildir}/\n"
        + ("user = nobody\n" if os.geteuid() == 0 else "") +
        "\n[options]\n"
        "verbose = 0\n"
        "read_all = true\n"
        f"delete = {'true' if delete else 'false'}\n")
    os.chmod(rc, 0o600)
    state = home / "getmail-state"
    state.mkdir(exist_ok=True)
    res = subprocess.run(
        ["getmail", "--rcfile", str(rc), "--getmaildir", str(state)],
        env=client_env(home), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def maildir_subjects(maildir):
    subjects = []
    for f in sorted((maildir / "new").iterdir()):
        for line in f.read_text().splitlines():
            if line.startswith("Subject: "):
                subjects.append(line[len("Subject: "):])
    return sorted(subjects)


@pytest.mark.skipif(shutil.which("getmail") is None,
                    reason="getmail6 not installed")
def test_getmail_keep_then_delete(server, tls_ctx, tmp_path, maildir):
    deliver_all(server)
    run_getmail(server, tmp_path, maildir, delete=False)
    assert maildir_subjects(maildir) == sorted(SUBJECTS)
    assert inbox_count(server, tls_ctx) == 3
    for f in (maildir / "new").iterdir():
        f.unlink()
    run_getmail(server, tmp_path, maildir, delete=True)
    assert maildir_subjects(maildir) == sorted(SUBJECTS)
    assert inbox_count(server, tls_ctx) == 0


@pytest.mark.skipif(shutil.which("getmail") is None,
                    reason="getmail6 not installed")
def test_getmail_delete_goes_to_trash_when_chosen(server, tls_ctx, tmp_path,
                                                  maildir):
    user_set(server, "pop3_on_delete=trash")
    deliver_all(server)
    run_getmail(server, tmp_path, maildir, delete=True)
    assert maildir_subjects(maildir) == sorted(SUBJECTS)
    # The careless client deleted; the phone can still get them back.
    assert inbox_count(server, tls_ctx) == 0
    assert imap_subjects(server, tls_ctx, "Trash") == SUBJECTS
