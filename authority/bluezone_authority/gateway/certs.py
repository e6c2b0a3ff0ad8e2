"""The operator's certificate authority and the TLS certificates it issues.

The gateway trusts exactly one CA (its operator's). Each province gets a
client certificate whose common name is its province code: the gateway
takes the uploader's identity from that certificate and nothing else, so a
province can only upload batches of its own origin. The gateway's own
server certificate comes from the same CA, so provinces pin that CA too.
Keys are ECDSA P-256; certificates are plain X.509 made with ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bluezone federation"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def init_ca(folder: Path, *, name: str = "Bluezone federation CA") -> Issued:
    """A new CA (``ca.pem``, ``ca.key`` 0600) in ``folder``; refuses to overwrite one."""
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if cert_path.exists() or key_path.exists():
        raise FileExistsError(f"{folder} already holds a CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=10 * VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path)


def issue(ca_folder: Path, common_name: str, out: Path, *, server_hosts: list[str] | None = None,
          days: int = VALID_DAYS) -> Issued:
    """A certificate signed by the CA in ``ca_folder``: a province's client
    certificate (``common_name`` = its code), or with ``server_hosts`` the
    gateway's server certificate. Writes ``out``.pem and ``out``.key."""
    ca_cert = x509.load_pem_x509_certificate((ca_folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_folder / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    if server_hosts:
        names: list[x509.GeneralName] = []
        for host in server_hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    out.parent.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out.with_suffix(".pem"), out.with_suffix(".key")
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path)


def server_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """The gateway's TLS: its own certificate, and a client certificate from the CA required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def client_context(ca: Path, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """A province's TLS to the gateway: the operator's CA only, and its client certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def common_name(peercert: dict | None) -> str | None:
    """The CN of a peer certificate as :meth:`ssl.SSLSocket.getpeercert` returns it."""
    for rdn in (peercert or {}).get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                return str(value)
    return None
