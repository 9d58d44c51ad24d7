"""The `postamt` command line: init, check, serve's start-up errors, exit codes."""
import socket
import subprocess

from conftest import BIN, Server, run_cli


def test_help_for_every_subcommand():
    for sub in ("init", "serve", "check", "user", "alias", "domain",
                "queue", "backup", "restore"):
        res = run_cli(sub, "--help")
        assert res.stdout.startswith("usage: postamt " + sub), res.stdout
    res = run_cli("--help")
    assert res.returncode == 0
    assert "backup" in res.stdout and "restore" in res.stdout


def test_unknown_command_and_option_exit_2():
    assert run_cli("frobnicate", check=False).returncode == 2
    res = run_cli("check", "--bogus", check=False)
    assert res.returncode == 2
    assert "--help" in res.stderr


def test_init_creates_a_checked_config(tmp_path):
    data = tmp_path / "d"
    run_cli("init", "--hostname", "mx.example.test", "--domain",
            "example.test", data=data)
    conf = (data / "postamt.conf").read_text()
    # Every key is written with a comment and its default.
    assert "\n# default: 993\nport_imaps = 993\n" in conf
    assert "hostname = mx.example.test" in conf
    assert (data / "tls" / "cert.pem").exists()
    assert (data / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    assert (data / "accounts.db").exists()
    res = run_cli("check", data=data)
    assert "ok" in res.stdout
    # A second init refuses to overwrite.
    assert run_cli("init", data=data, check=False).returncode == 1


def test_certificate_names_the_host(tmp_path):
    data = tmp_path / "d"
    run_cli("init", "--hostname", "mx.example.test", data=data)
    out = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                          str(data / "tls" / "cert.pem")],
                         capture_output=True, text=True, check=True).stdout
    assert "DNS:mx.example.test" in out
    assert "IP Address:127.0.0.1" in out


def test_check_reports_every_error_with_file_and_line(tmp_path):
    data = tmp_path / "d"
    run_cli("init", data=data)
    conf = data / "postamt.conf"
    conf.write_text(conf.read_text() + "colour = blue\nport_smtp = many\n")
    nlines = len(conf.read_text().splitlines())
    res = run_cli("check", data=data, check=False)
    assert res.returncode == 2
    assert f"{conf}:{nlines - 1}: unknown key \"colour\"" in res.stderr
    assert f"{conf}:{nlines}: port_smtp = \"many\"" in res.stderr
    # serve refuses the same file with the same messages.
    res = run_cli("serve", "--port-offset", "30000", data=data, check=False)
    assert res.returncode == 2
    assert "unknown key \"colour\"" in res.stderr


def test_missing_certificate_is_a_config_error(tmp_path):
    data = tmp_path / "d"
    run_cli("init", data=data)
    (data / "tls" / "cert.pem").unlink()
    res = run_cli("check", data=data, check=False)
    assert res.returncode == 2
    assert "postamt.conf:" in res.stderr and "tls_cert" in res.stderr
    assert "readable PEM" in res.stderr


def test_duplicate_ports_are_reported(tmp_path):
    data = tmp_path / "d"
    run_cli("init", data=data)
    srv = Server(data)
    srv.configure(port_pop3="143")
    res = run_cli("check", data=data, check=False)
    assert res.returncode == 2
    assert "port_pop3 = 143 is also port_imap" in res.stderr


def test_port_in_use_exits_2_naming_the_key(tmp_path):
    data = tmp_path / "d"
    run_cli("init", data=data)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        offset = port - 143
        if offset < 0:
            offset = port - 993
            key = "port_imaps"
        else:
            key = "port_imap"
        res = run_cli("serve", "--port-offset", str(offset), data=data,
                      check=False)
        assert res.returncode == 2
        assert f"{key} = " in res.stderr
        assert "already in use" in res.stderr
        assert "postamt.conf:" in res.stderr
    finally:
        blocker.close()


def test_serve_without_init_says_what_to_do(tmp_path):
    res = run_cli("serve", data=tmp_path / "nothing", check=False)
    assert res.returncode == 2
    assert "postamt init" in res.stderr


def test_user_add_list_del(tmp_path):
    data = tmp_path / "d"
    run_cli("init", "--domain", "example.test", data=data)
    res = run_cli("user", "add", "bob@example.test", data=data)
    assert res.stdout.startswith("password: ")
    assert len(res.stdout.split()[1]) >= 16
    run_cli("user", "add", "carol@example.test", "--password-stdin",
            data=data, stdin="pw-carol\n")
    listed = run_cli("user", "list", data=data).stdout.split()
    assert listed == ["bob@example.test", "carol@example.test"]
    dup = run_cli("user", "add", "bob@example.test", "--password-stdin",
                  data=data, stdin="x\n", check=False)
    assert dup.returncode == 1
    run_cli("user", "del", "bob@example.test", data=data)
    assert run_cli("user", "list", data=data).stdout.split() == \
        ["carol@example.test"]
    assert run_cli("user", "add", data=data, check=False).returncode == 2


def test_user_settings(tmp_path):
    data = tmp_path / "d"
    run_cli("init", "--domain", "example.test", data=data)
    run_cli("user", "add", "dave@example.test", data=data)
    shown = run_cli("user", "show", "dave@example.test", data=data).stdout
    assert "pop3_after_retrieve=keep\n" in shown
    assert "quota=0\n" in shown
    run_cli("user", "set", "dave@example.test", "quota=500M",
            "pop3_on_delete=trash", "imap=no", data=data)
    shown = run_cli("user", "show", "dave@example.test", data=data).stdout
    assert f"quota={500 << 20}\n" in shown
    assert "pop3_on_delete=trash\n" in shown
    assert "imap=no\n" in shown
    bad = run_cli("user", "set", "dave@example.test", "pop3_on_delete=shred",
                  data=data, check=False)
    assert bad.returncode == 2 and "expunge or trash" in bad.stderr
    bad = run_cli("user", "set", "dave@example.test", "colour=red",
                  data=data, check=False)
    assert bad.returncode == 2 and "unknown setting" in bad.stderr
    missing = run_cli("user", "set", "nobody@example.test", "imap=no",
                      data=data, check=False)
    assert missing.returncode == 1
