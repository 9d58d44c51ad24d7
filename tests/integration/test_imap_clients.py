"""Real IMAP clients from Debian against the server over IMAPS, verifying
its self-signed certificate (DATA/tls/cert.pem): mbsync (isync) syncing a
mailbox both ways, offlineimap3 syncing, and neomutt in batch mode."""
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_imap import ALICE, PASSWORD, deliver, logged_in


def need(binary):
    if shutil.which(binary) is None:
        pytest.skip(f"{binary} is not installed (scripts/deps.sh)")


def mail(subject, body="hello"):
    return (f"From: Bob <bob@remote.example>\r\nTo: {ALICE}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@t>\r\n\r\n"
            f"{body}\r\n")


def maildir_files(d):
    return sorted(p for sub in ("cur", "new") for p in (d / sub).iterdir())


def server_subjects(server, tls_ctx, box="INBOX"):
    m = logged_in(server, tls_ctx)
    m.select(box)
    typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    for item in data:
        if isinstance(item, tuple):
            subj = item[1].decode().split(":", 1)[1].strip()
            out[subj] = item[0].decode()
    m.logout()
    return out


def run(cmd, timeout=60, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         **kw)
    assert res.returncode == 0, f"{cmd}: {res.stdout}\n{res.stderr}"
    return res


def mbsync_config(server, tmp_path, extra=""):
    local = tmp_path / "mail"
    local.mkdir()
    cfg = tmp_path / "mbsyncrc"
    cfg.write_text(f"""IMAPAccount postamt
Host 127.0.0.1
Port {server.port("imaps")}
User {ALICE}
Pass {PASSWORD}
SSLType IMAPS
CertificateFile {server.data / "tls" / "cert.pem"}
{extra}

IMAPStore remote
Account postamt

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
Sync All
SyncState *
""")
    return cfg, local


def test_mbsync_both_ways(server, tls_ctx, tmp_path):
    need("mbsync")
    deliver(server, mail("one").encode())
    deliver(server, mail("two").encode())
    # mbsync uses COMPRESS=DEFLATE when offered: the sync runs compressed.
    cfg, local = mbsync_config(server, tmp_path)
    run(["mbsync", "-c", str(cfg), "sync"])
    files = maildir_files(local / "INBOX")
    assert len(files) == 2
    assert {"one", "two"} == {
        next(ln.split(": ", 1)[1] for ln in f.read_text().splitlines()
             if ln.startswith("Subject:")) for f in files}
    # Local changes go up: a new message, a flag, a message moved away.
    (local / "INBOX" / "new" / "1700000000.1.host").write_text(
        mail("three"))
    one = next(f for f in files if "Subject: one" in f.read_text())
    base = one.name.split(":2,")[0]
    one.rename(one.parent.parent / "cur" / (base + ":2,FS"))
    run(["mbsync", "-c", str(cfg), "sync"])
    subjects = server_subjects(server, tls_ctx)
    assert set(subjects) == {"one", "two", "three"}
    assert "\\Flagged" in subjects["one"] and "\\Seen" in subjects["one"]
    assert "\\Seen" not in subjects["two"]
    # Server changes come down: delete "two" on the server.
    m = logged_in(server, tls_ctx)
    m.select("INBOX")
    typ, data = m.search(None, "SUBJECT", "two")
    m.store(data[0].decode(), "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    run(["mbsync", "-c", str(cfg), "sync"])
    texts = [f.read_text() for f in maildir_files(local / "INBOX")]
    assert len(texts) == 2 and not any("Subject: two" in t for t in texts)


def test_mbsync_compress_logout(server, tls_ctx, tmp_path):
    need("mbsync")
    deliver(server, mail("one").encode())
    cfg, local = mbsync_config(server, tmp_path)
    run(["mbsync", "-c", str(cfg), "sync"], timeout=5)
    assert len(maildir_files(local / "INBOX")) == 1


def test_offlineimap_sync(server, tls_ctx, tmp_path):
    need("offlineimap")
    deliver(server, mail("alpha").encode())
    deliver(server, mail("beta").encode())
    cfg = tmp_path / "offlineimaprc"
    cfg.write_text(f"""[general]
accounts = main
metadata = {tmp_path}/oi-meta
ui = quiet

[Account main]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {tmp_path}/oi-mail

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {server.port("imaps")}
remoteuser = {ALICE}
remotepass = {PASSWORD}
ssl = yes
sslcacertfile = {server.data / "tls" / "cert.pem"}
folderfilter = lambda f: f in ['INBOX']
""")
    run(["offlineimap", "-c", str(cfg), "-o", "-u", "quiet"])
    inbox = tmp_path / "oi-mail" / "INBOX"
    texts = [f.read_text() for f in maildir_files(inbox)]
    assert sorted(t.split("Subject: ")[1].splitlines()[0]
                  for t in texts) == ["alpha", "beta"]
    # A message added locally is uploaded, with its flag.
    (inbox / "cur" / "1700000000_0.1.host,FMD5=x:2,S").write_text(
        mail("gamma"))
    run(["offlineimap", "-c", str(cfg), "-o", "-u", "quiet"])
    subjects = server_subjects(server, tls_ctx)
    assert set(subjects) == {"alpha", "beta", "gamma"}
    assert "\\Seen" in subjects["gamma"]


def test_neomutt_reads_and_moves(server, tls_ctx, tmp_path):
    """neomutt, driven through a pseudo-terminal by `script`, opens INBOX
    over IMAPS (trusting the server's certificate), pipes the first
    message to a file (reading it) and saves it to Archive (a move:
    neomutt copies, marks it deleted and expunges on sync)."""
    need("neomutt")
    need("script")
    deliver(server, mail("for-neomutt", "read me with neomutt").encode())
    out = tmp_path / "read.txt"
    rc = tmp_path / "muttrc"
    rc.write_text(f"""set folder = "imaps://localhost:{server.port('imaps')}/"
set spoolfile = "+INBOX"
set imap_user = "{ALICE}"
set imap_pass = "{PASSWORD}"
set certificate_file = "{server.data / 'tls' / 'cert.pem'}"
set ssl_force_tls = yes
set imap_check_subscribed = no
set header_cache = ""
set message_cachedir = ""
set move = no
set delete = yes
set quit = yes
set confirmappend = no
set confirmcreate = no
set mark_old = no
set wait_key = no
set pipe_decode = no
""")
    keys = (f'push "<pipe-message>cat > {out}<enter>'
            '<save-message>=Archive<enter><sync-mailbox><quit>"')
    cmd = f"neomutt -n -F {rc} -e '{keys}'"
    res = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                         capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                         env={"TERM": "xterm", "HOME": str(tmp_path),
                              "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stdout[-2000:]
    assert "read me with neomutt" in out.read_text()
    assert server_subjects(server, tls_ctx, "INBOX") == {}
    assert list(server_subjects(server, tls_ctx, "Archive")) == ["for-neomutt"]
