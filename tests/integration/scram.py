"""The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for the tests.

smtplib, imaplib and poplib have no SCRAM; this gives the three messages a
client sends and checks the server's signature.  No channel binding
("n,,"), as the server offers SCRAM-SHA-256 only.
"""
import base64
import hashlib
import hmac
import os


def _h(data):
    return hashlib.sha256(data).digest()


def _hmac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def _escape(name):
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """One exchange: first() -> final(server_first) -> verify(server_final)."""

    def __init__(self, user, password, nonce=None):
        self.user = user
        self.password = password.encode()
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={_escape(user)},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first, proof_password=None):
        """The client-final for server_first (bytes); a different
        proof_password makes a wrong proof on purpose."""
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce), "server changed our nonce"
        salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
        password = proof_password.encode() if proof_password else self.password
        salted = hashlib.pbkdf2_hmac("sha256", password, salt, iters)
        client_key = _hmac(salted, b"Client Key")
        without_proof = "c=biws,r=" + attrs["r"]
        auth_msg = ",".join([self.first_bare, server_first.decode(),
                             without_proof]).encode()
        signature = _hmac(_h(client_key), auth_msg)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = _hmac(salted, b"Server Key")
        self.server_signature = _hmac(server_key, auth_msg)
        return (without_proof + ",p=" +
                base64.b64encode(proof).decode()).encode()

    def verify(self, server_final):
        """True if server_final ("v=...") proves the server knows the keys."""
        text = server_final.decode()
        return (text.startswith("v=") and
                base64.b64decode(text[2:]) == self.server_signature)


def b64(data):
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)
