"""HTTPS for `rtstyle serve`: browsers give the camera only to secure origins, so a phone
on the LAN needs TLS.

`--cert/--key` use the user's own certificate. `--https` alone makes a self-signed one on
first use (with the `cryptography` package, which aiortc already needs) and keeps it in
$RTSTYLE_HOME/serve/tls, so a browser's "accept this certificate" is asked once, not at
every start. It is remade when it expires or lacks the name the server is reached by.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

from rtstyle.errors import RtstyleError
from rtstyle.files import write_bytes_atomic
from rtstyle.styles.catalogue import home

VALID_DAYS = 825  # the longest validity Apple's browsers accept for a TLS certificate
RENEW_DAYS = 7  # remake a certificate this close to its end


def tls_dir() -> Path:
    return home() / "serve" / "tls"


def context(cert: Path | None, key: Path | None, host: str) -> ssl.SSLContext:
    """The server's TLS context: the given pair, else the kept (or a new) self-signed one."""
    if (cert is None) != (key is None):
        raise RtstyleError("--cert and --key go together; give both files (PEM), or neither "
                           "and --https for a self-signed certificate")
    if cert is None:
        cert, key = self_signed(host)
    for flag, path in (("--cert", cert), ("--key", key)):
        if not path.is_file():
            raise RtstyleError(f"{flag} {path} is not a file; give a PEM file")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as e:
        raise RtstyleError(f"cannot use --cert {cert} with --key {key} ({e.args[-1]}); give a "
                           "PEM certificate and its matching private key") from None
    return ctx


def _names(host: str) -> list[str]:
    """Names and addresses the certificate should cover: loopback, this machine's name and
    the address the server binds to (when it is one address, not the wildcard)."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    try:
        if not ipaddress.ip_address(host).is_unspecified:
            names.append(host)
    except ValueError:
        names.append(host)
    return list(dict.fromkeys(names))


def self_signed(host: str) -> tuple[Path, Path]:
    """The kept self-signed pair for `host`, made (or remade) when missing, expiring or
    not naming `host`."""
    from cryptography import x509

    folder = tls_dir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = _names(host)
    if cert.is_file() and key.is_file():
        try:
            old = x509.load_pem_x509_certificate(cert.read_bytes())
            covered = {str(n.value) for n in old.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value}
            left = old.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
            if set(names) <= covered and left > datetime.timedelta(days=RENEW_DAYS):
                return cert, key
        except (ValueError, x509.ExtensionNotFound):
            pass  # unreadable: make a new one
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = make_certificate(names)
    write_bytes_atomic(key, key_pem)
    key.chmod(0o600)
    write_bytes_atomic(cert, cert_pem)
    return cert, key


def make_certificate(names: list[str]) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 certificate for `names` (host names or IPs), as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"rtstyle serve {names[-1]}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(private, hashes.SHA256()))
    key_pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
