"""What a deployment file's schema cannot say, checked before any command relies on it.

JSON Schema sees types and shapes; a file can pass it and still crash a
command later: a key file that is not there or holds the wrong kind of key,
a key that is not base64, a time zone the system does not know, thresholds
in the wrong order, a URL without a host, a key schedule nobody installed.
:func:`deeper_problems` finds all of these in one pass, each with its line,
so ``bluezone config check`` lists them together with the schema problems
and every other command refuses the file with one line instead of a
traceback. It only reads the parsed data (any type may be wrong there) and
the files it names; it never changes either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .i18n import _
from .keytext import decode_key32

if TYPE_CHECKING:
    from .config import Config, Problem

#: schemes whose URL must name a host (``file://`` and in-process transports need none)
_NETWORK_SCHEMES = ("http", "https")


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _resolve(path: Path | None, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() or path is None else path.parent / p


def export_key_problem(value: str, path: Path | None) -> str | None:
    """Why ``[authority] export_keys[].public_key`` (PEM text or a file) is not
    a P-256 public key, or None when it is."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = value
    if "BEGIN" not in value:
        file = _resolve(path, value)
        try:
            pem = file.read_text(encoding="ascii")
        except FileNotFoundError:
            return str(_("file {file} does not exist (make the key pair with 'bluezone authority keys export "
                         "DIR' and give the .pub.pem file here)", file=file))
        except (OSError, UnicodeDecodeError) as e:
            return str(_("cannot read {file}: {reason}", file=file, reason=getattr(e, "strerror", None) or e))
        if "PRIVATE KEY" in pem:
            return str(_("{file} holds a private key; give the public half (.pub.pem) here and keep the private "
                         "key on the server only", file=file))
    try:
        key = load_pem_public_key(pem.encode("ascii", "replace"))
    except ValueError:
        return str(_("not a PEM public key"))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        return str(_("not a P-256 (secp256r1) public key, which export signatures need"))
    return None


def curve25519_problem(value: Any) -> str | None:
    """Why a base64 Curve25519 key is not one (32 bytes), or None."""
    if not isinstance(value, str):
        return None  # the schema reports the type
    try:
        decode_key32(value, "key")
    except ValueError as e:
        detail = str(e)
        if "not base64" in detail:
            return str(_("not base64 text"))
        m = re.search(r"got (\d+)", detail)
        return str(_("must be 32 bytes of base64 (a Curve25519 key), got {n}", n=m.group(1) if m else "?"))
    return None


def url_problem(value: Any) -> str | None:
    """Why an http(s) URL cannot be used (no host, a bad port), or None."""
    if not isinstance(value, str) or "://" not in value:
        return None  # the schema reports it
    parts = urlsplit(value)
    if parts.scheme not in _NETWORK_SCHEMES:
        return None
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return str(_("the port in {url!r} is not a number from 1 to 65535", url=value))
    if not parts.hostname or any(c.isspace() for c in value):
        return str(_("{url!r} names no host (write it as https://host.example.vn)", url=value))
    return None


def deeper_problems(data: dict[str, Any], text: str, path: Path | None, config: "Config",
                    reported: Iterable["Problem"]) -> list["Problem"]:
    """Every problem beyond the schema in ``data`` (already checked against
    it, defaults filled). ``reported`` are the schema's problems: a section
    that already has one is not built again (its message would repeat)."""
    from .config import Problem, _find_line

    out: list[Problem] = []

    def add(section: str, key: str | None, location: str, message: str | None) -> None:
        if message:
            out.append(Problem(location, message, _find_line(text, section, key) or _find_line(text, section, None)))

    risk = _section(data, "risk")
    thresholds = risk.get("attenuation_thresholds_db")
    if (isinstance(thresholds, list) and all(isinstance(t, int) for t in thresholds)
            and any(a >= b for a, b in zip(thresholds, thresholds[1:], strict=False))):
        add("risk", "attenuation_thresholds_db", "[risk] attenuation_thresholds_db",
            str(_("the thresholds must rise from the nearest to the farthest bucket (e.g. [58, 63, 68]), "
                  "got {values}", values=thresholds)))

    authority = _section(data, "authority")
    add("authority", "url", "[authority] url", url_problem(authority.get("url")))
    keys = authority.get("export_keys")
    for i, entry in enumerate(keys if isinstance(keys, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("public_key"), str):
            add("authority", "export_keys", f"[authority] export_keys[{i}].public_key",
                export_key_problem(entry["public_key"], path))
    if "declaration_public_key" in authority:
        add("authority", "declaration_public_key", "[authority] declaration_public_key",
            curve25519_problem(authority["declaration_public_key"]))

    add("schedule", "name", "[schedule] name", _schedule_problem(data, config))

    sections_with_problems = {p.location.split("]")[0].lstrip("[") for p in [*reported, *out]}
    out.extend(_build_problems(config, text, sections_with_problems))
    return out


def _schedule_problem(data: dict[str, Any], config: "Config") -> str | None:
    name = _section(data, "schedule").get("name")
    if not isinstance(name, str):
        return None
    from .plugins import call_hook, collect_named

    try:
        schedules = collect_named(call_hook(config.pm.hook.bluezone_key_schedules), "key schedule")
    except Exception:  # noqa: BLE001 - a plugin that fails to load is reported by the plugin check
        return None
    if name in schedules:
        return None
    return str(_("unknown key schedule {name!r}; installed: {names}", name=name,
                 names=", ".join(sorted(schedules)) or _("none")))


def _build_problems(config: "Config", text: str, skip: set[str]) -> list["Problem"]:
    """Build every section's settings object, as a command would when it
    reads the section; what its class refuses becomes a problem."""
    from .config import Problem, _find_line

    out: list[Problem] = []
    seen: set[str] = set()
    try:
        classes = config.settings_classes()
    except Exception:  # noqa: BLE001 - two plugins claiming a section: already a problem
        return out
    # sections already reported are built first, silently: a section that reads
    # one of them (the server reads the region) fails with the same words
    for section in sorted(classes, key=lambda name: (name not in skip, name != "deployment")):
        try:
            config.typed(section)
        except (ValueError, TypeError, LookupError) as e:
            message = str(e)
            if message in seen or section in skip:  # several sections read the same value
                seen.add(message)
                continue
            seen.add(message)
            key = _key_in(message, _keys_of(config, section))
            out.append(Problem(f"[{section}]", message,
                               _find_line(text, section, key) or _find_line(text, section, None)))
    return out


def _keys_of(config: "Config", section: str) -> list[str]:
    value = config.data.get(section)
    return sorted(value, key=len, reverse=True) if isinstance(value, dict) else []


def _key_in(message: str, keys: list[str]) -> str | None:
    """The first key of the section a refusal names (its line is the best place to point at)."""
    found: list[tuple[int, str]] = [(message.find(k), k) for k in keys if re.search(rf"\b{re.escape(k)}\b", message)]
    return min(found)[1] if found else None

