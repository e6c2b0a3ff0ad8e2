"""Every problem of a gateway's TOML file, each with its line, in one pass.

The gateway refuses to start on a file it cannot use, but one refusal at a
time (a missing CA, then a key that belongs to another certificate, then a
port out of range) costs the operator a restart each. ``bluezone config
check gateway.toml`` (through ``bluezone_config_files``) lists them all,
as it does for a province's deployment file, and ``bluezone gateway
--config`` refuses the same file with the first of them in one line
(:meth:`.settings.GatewaySettings.load`). It only reads the file and the
files it names; it never writes either.

What it checks, beyond types and unknown names: the listen address (an IP
address or a host name, a port 1-65535), the database (a SQLite file in a
folder that exists), the retention (at least a day), the body limit, and the
three TLS files: the CA certificate is a CA, the server certificate was
issued by it for servers and is valid now, the key is the certificate's.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from bluezone.config import ConfigError, Problem, find_line, read_config_text
from bluezone.i18n import Message, _

SECTION = "gateway"
#: Each setting and its TOML type (what ``GatewaySettings.load`` reads).
KEYS: dict[str, type] = {"host": str, "port": int, "database": str, "ca": str, "cert": str, "key": str,
                         "retention_days": int, "max_body_bytes": int}
TLS_FILES = ("ca", "cert", "key")
#: the smallest sensible upload limit: a batch of a few keys is a few hundred bytes
MIN_BODY_BYTES = 1024
#: The largest upload limit: more than a batch of ``encoding.MAX_KEYS`` keys
#: takes, so a bigger one only lets a client make the gateway hold more memory.
MAX_BODY_BYTES = 1024 * 1024 * 1024
#: The longest retention: keys match nothing after 14 days, and a bigger number
#: (TOML allows any) overflowed the cutoff in SQL at start (OverflowError).
MAX_RETENTION_DAYS = 3650
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def host_problem(host: str) -> Message | None:
    """Why ``host`` cannot be listened on (neither an IP address nor a host name), or None."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if host and len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels):
        return None
    return _("{host!r} is neither an IP address nor a host name", host=host)


def database_problem(value: str, base: Path) -> Message | None:
    """Why the gateway cannot keep its batches at ``value`` (relative to the file), or None."""
    from ..server.database import POSTGRESQL, DatabaseError, file_problem, target, target_display

    if not value.strip():
        return _("give the SQLite file or the postgresql:// URL the gateway keeps its batches in")
    try:
        where = target(value)
    except DatabaseError:  # another scheme than postgresql:// or sqlite:///
        return _("database {value}: use a file path (SQLite) or a postgresql:// URL", value=target_display(value))
    if where.kind == POSTGRESQL:
        return None  # reached when the gateway starts: an unreachable server is one line then
    path = base / where.location
    problem: Message | None = file_problem(path)
    if problem is not None:
        return problem
    if not path.parent.is_dir():
        return _("folder {folder} does not exist", folder=path.parent)
    return None


#: A CA, a certificate or a key is a few KiB; more is not a PEM file of ours.
MAX_PEM_BYTES = 1024 * 1024


def read_pem(path: Path) -> tuple[bytes | None, Message | None]:
    """The bytes of a PEM file. Why the checks: ``ca``, ``cert`` or ``key`` naming
    a FIFO hung the check (and the gateway's start), and ``/dev/zero`` was read
    until memory ran out."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, _("cannot read {file}: {reason}", file=path, reason=_("not a regular file"))
        if info.st_size > MAX_PEM_BYTES:
            return None, _("{file} is larger than {n} bytes: not a PEM file", file=path, n=MAX_PEM_BYTES)
        with path.open("rb") as f:
            return f.read(MAX_PEM_BYTES + 1)[:MAX_PEM_BYTES], None
    except FileNotFoundError:
        return None, _("file {file} does not exist", file=path)
    except OSError as e:
        return None, _("cannot read {file}: {reason}", file=path, reason=e.strerror or e)


def _certificate(path: Path) -> tuple[x509.Certificate | None, Message | None]:
    data, problem = read_pem(path)
    if data is None:
        return None, problem
    try:
        return x509.load_pem_x509_certificate(data), None
    except ValueError:
        return None, _("{file} is not a PEM certificate", file=path)


def _validity_problem(cert: x509.Certificate, path: Path, now: dt.datetime) -> Message | None:
    if cert.not_valid_after_utc < now:
        return _("{file} expired on {date}", file=path, date=cert.not_valid_after_utc.date().isoformat())
    if cert.not_valid_before_utc > now:
        return _("{file} is not valid before {date}", file=path, date=cert.not_valid_before_utc.date().isoformat())
    return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _may(cert: x509.Certificate, usage: x509.ObjectIdentifier) -> bool:
    """Whether the certificate may be used for ``usage`` (no usage list, or one naming it)."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage in usages


def _tls_problems(paths: dict[str, Path], now: dt.datetime, *, client: bool = False) -> dict[str, Message]:
    """The problem of each of ``ca``, ``cert``, ``key`` that has one: the gateway's
    server certificate, or (``client``) a province's client certificate."""
    out: dict[str, Message] = {}
    ca = cert = None
    if "ca" in paths:
        ca, problem = _certificate(paths["ca"])
        if problem is None and ca is not None:
            if not _is_ca(ca):
                problem = _("{file} is not a CA certificate (give the operator's ca.pem)", file=paths["ca"])
            else:
                problem = _validity_problem(ca, paths["ca"], now)
        if problem is not None:
            out["ca"] = problem
    if "cert" in paths:
        cert, problem = _certificate(paths["cert"])
        if cert is not None:
            if ca is not None and "ca" not in out and not _issued_by(cert, ca):
                problem = _("{file} was not issued by the CA in {ca}", file=paths["cert"], ca=paths["ca"])
            elif not client and not _may(cert, ExtendedKeyUsageOID.SERVER_AUTH):
                problem = _("{file} is not a server certificate (issue it with 'bluezone gateway ca issue "
                            "--server-host HOST')", file=paths["cert"])
            elif client and not _may(cert, ExtendedKeyUsageOID.CLIENT_AUTH):
                problem = _("{file} is not a province's client certificate (the operator issues it with "
                            "'bluezone gateway ca issue PROVINCE')", file=paths["cert"])
            else:
                problem = _validity_problem(cert, paths["cert"], now)
        if problem is not None:
            out["cert"] = problem
    if "key" in paths:
        problem = _key_problem(paths["key"], cert, paths.get("cert"))
        if problem is not None:
            out["key"] = problem
    return out


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_problem(path: Path, cert: x509.Certificate | None, cert_path: Path | None) -> Message | None:
    data, problem = read_pem(path)
    if data is None:
        return problem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return _("{file} is encrypted; an unencrypted key is read (keep it 0600)", file=path)
    except (ValueError, UnsupportedAlgorithm):
        return _("{file} is not a PEM private key", file=path)
    if cert is not None and cert_path is not None:
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
            return _("{file} is not the key of {cert}", file=path, cert=cert_path)
    return None


def client_tls_problems(ca: Path, cert: Path, key: Path, now: dt.datetime | None = None) -> dict[str, Message]:
    """A province's ``[federation]`` ``ca``, ``client_cert`` and ``client_key``:
    the problem of each that has one (keys ``ca``, ``cert``, ``key``)."""
    return _tls_problems({"ca": ca, "cert": cert, "key": key}, now or dt.datetime.now(dt.timezone.utc), client=True)


def problems(path: Path, now: dt.datetime | None = None) -> list[Problem]:
    """Every problem of the gateway file at ``path``, in the file's order (an empty
    list: it can be used). ``now``: the time certificates must be valid at."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        text = read_config_text(path)  # not a FIFO, a device or a huge file
    except ConfigError as e:
        return list(e.problems)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        return [Problem("TOML", str(_("not valid TOML: {detail}", detail=e)), int(m.group(1)) if m else None)]
    except RecursionError:
        return [Problem("TOML", str(_("not valid TOML: {detail}", detail=_("nested too deeply"))))]
    out: list[Problem] = []

    def add(key: str | None, message: Message | None) -> None:
        if message is not None:
            where = f"[{SECTION}] {key}" if key else f"[{SECTION}]"
            out.append(Problem(where, str(message), find_line(text, SECTION, key) or find_line(text, SECTION, None)))

    for name in data:
        if name != SECTION:
            out.append(Problem(f"[{name}]", str(_("unknown section in a gateway file (known: {known})",
                                                   known=SECTION)), find_line(text, name, None)))
    section: Any = data.get(SECTION)
    if not isinstance(section, dict):
        out.append(Problem(f"[{SECTION}]", str(_("missing section"))))
        return out
    good: dict[str, Any] = {}
    for name, value in section.items():
        kind = KEYS.get(name)
        if kind is None:
            add(name, _("unknown setting {name!r} (known: {known})", name=name, known=", ".join(KEYS)))
        elif not isinstance(value, kind) or isinstance(value, bool):
            add(name, _("must be a whole number") if kind is int else _("must be text"))
        else:
            good[name] = value
    if "host" in good:
        add("host", host_problem(good["host"]))
    if "port" in good and not 1 <= good["port"] <= 65535:
        add("port", _("must be a port number from 1 to 65535, got {n}", n=good["port"]))
    if "retention_days" in good and good["retention_days"] < 1:
        add("retention_days", _("must be at least 1 day, got {n}", n=good["retention_days"]))
    if "retention_days" in good and good["retention_days"] > MAX_RETENTION_DAYS:
        add("retention_days", _("must be at most {max} days, got {n}", max=MAX_RETENTION_DAYS, n=good["retention_days"]))
    if "max_body_bytes" in good and good["max_body_bytes"] < MIN_BODY_BYTES:
        add("max_body_bytes", _("must be at least {min} bytes, got {n}", min=MIN_BODY_BYTES, n=good["max_body_bytes"]))
    if "max_body_bytes" in good and good["max_body_bytes"] > MAX_BODY_BYTES:
        add("max_body_bytes", _("must be at most {max} bytes, got {n}", max=MAX_BODY_BYTES, n=good["max_body_bytes"]))
    base = path.parent
    if "database" in good:
        add("database", database_problem(good["database"], base))
    for name in TLS_FILES:
        if name not in section:
            add(None, _("{name} is required (a PEM file)", name=name))
    tls = _tls_problems({n: base / good[n] for n in TLS_FILES if n in good}, now)
    for name in TLS_FILES:
        add(name, tls.get(name))
    return sorted(out, key=lambda p: (p.line is None, p.line or 0))  # in the file's order: the first is line 1's
