"""Configured addresses whose host is outside the country: ``config check`` warnings.

Personal data leaving Vietnam is a cross-border transfer under the Personal
Data Protection Law (91/2025/QH15), with its own assessment and filing. A
deployment file that points phones at a mirror, CDN or submitter abroad
should therefore not pass unnoticed. Any string value in the file that is a
URL is checked, whichever section holds it (``[authority] url``,
``[transport] download_url``, ``[declarations.ncovi] url``, a plugin's
own); its host is "in the country" when it matches ``[privacy]
hosts_in_country`` (an exact name, or a ``.suffix`` such as ``.vn``).
Loopback and private addresses (a test mirror, a LAN) and ``file://`` paths
are local. A public IP address cannot be placed from its digits, so it is
warned about too. These are warnings, not errors: a province may have good
reasons (a signed contract with a processor abroad) and says so in its DPIA.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class HostWarning:
    location: str
    url: str
    host: str

    def format(self, file: str) -> str:
        """One line, in every deployment language (no person behind it)."""
        from ..i18n import _

        return str(_("{file}: warning: {location} = {url!r}: host {host!r} is not in the country ([privacy] "
                     "hosts_in_country); personal data sent there crosses the border",
                     file=file, location=self.location, url=self.url, host=self.host))


def _urls(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if "://" in value and value.split("://", 1)[0].isalpha():
            yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _urls(v, f"{where} {k}" if where.endswith("]") else f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _urls(v, f"{where}[{i}]")


def _local(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def in_country(host: str, allowed: tuple[str, ...] | list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry.startswith("."):
            if host.endswith(entry) or host == entry[1:]:
                return True
        elif host == entry:
            return True
    return False


def outside_hosts(data: Mapping[str, Any], allowed: tuple[str, ...] | list[str]) -> list[HostWarning]:
    """Every URL in the deployment ``data`` whose host is neither local nor in ``allowed``."""
    out = []
    for section, value in data.items():
        for where, url in _urls(value, f"[{section}]"):
            parts = urlsplit(url)
            if parts.scheme == "file":
                continue
            host = parts.hostname or ""
            if _local(host) or in_country(host, allowed):
                continue
            out.append(HostWarning(where, url, host))
    return out
