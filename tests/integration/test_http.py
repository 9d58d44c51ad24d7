"""HTTP on ports 80/443: health check and mail client autoconfiguration."""
import http.client
import socket
import xml.etree.ElementTree as ET

from conftest import client_tls_context


def get(server, path, tls=False, method="GET"):
    if tls:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", server.port("https"), timeout=10,
            context=client_tls_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port("http"),
                                          timeout=10)
    conn.request(method, path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type"), body


def test_health_over_http_and_https(server):
    assert get(server, "/health")[::2] == (200, b"ok\n")
    assert get(server, "/health", tls=True)[::2] == (200, b"ok\n")


def test_autoconfig_names_the_real_ports(server):
    status, ctype, body = get(
        server, "/.well-known/autoconfig/mail/config-v1.1.xml"
        "?emailaddress=alice%40example.test")
    assert status == 200
    assert ctype.startswith("application/xml")
    root = ET.fromstring(body)
    servers = {(s.get("type"), s.findtext("socketType")):
               int(s.findtext("port"))
               for s in root.iter() if s.tag.endswith("Server")}
    assert servers[("imap", "SSL")] == server.port("imaps")
    assert servers[("imap", "STARTTLS")] == server.port("imap")
    assert servers[("pop3", "SSL")] == server.port("pop3s")
    assert servers[("smtp", "SSL")] == server.port("submissions")
    assert servers[("smtp", "STARTTLS")] == server.port("submission")
    assert root.findtext("emailProvider/domain") == "example.test"


def test_errors(server):
    assert get(server, "/nothing-here")[0] == 404
    assert get(server, "/health", method="POST")[0] == 405
    status, _, body = get(server, "/health", method="HEAD")
    assert status == 200 and body == b""
    with socket.create_connection(("127.0.0.1", server.port("http")), 5) as s:
        s.sendall(b"NONSENSE\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400 ")
    with socket.create_connection(("127.0.0.1", server.port("http")), 5) as s:
        s.sendall(b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 431 ")
