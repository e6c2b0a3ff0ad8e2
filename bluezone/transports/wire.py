"""What travels on the wire, shared by the HTTP and loopback transports.

Request bodies are built here and padded with :func:`bluezone.transport.pad_body`
so that verify, certificate, publish, declaration and decoy requests all have
the same size class; responses are parsed here into the core's dataclasses.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from bluezone import ExposureKey, TransportError, UploadReceipt, VerifiedCode
from bluezone.i18n import _


def verify_body(code: str) -> dict[str, Any]:
    return {"code": code}


def certificate_body(token: str, ekeyhmac: bytes) -> dict[str, Any]:
    return {"token": token, "ekeyhmac": base64.b64encode(ekeyhmac).decode()}


def publish_body(keys: list[ExposureKey], certificate: str, hmac_secret: bytes,
                 revision_token: str = "", share_beyond_province: bool = False) -> dict[str, Any]:
    """The publish request; ``revision_token`` (from an earlier publish of this
    phone) lets keys already published be revised (docs/api.md);
    ``share_beyond_province`` is the person's consent to other provinces
    receiving the keys through the national gateway (docs/federation.md)."""
    body: dict[str, Any] = {
        "temporaryExposureKeys": [
            {"key": base64.b64encode(k.key_data).decode(), "rollingStartNumber": k.rolling_start_interval_number,
             "rollingPeriod": k.rolling_period, "transmissionRisk": k.transmission_risk_level} for k in keys],
        "verificationPayload": certificate,
        "hmacKey": base64.b64encode(hmac_secret).decode(),
        "shareBeyondProvince": bool(share_beyond_province),
    }
    if revision_token:
        body["revisionToken"] = revision_token
    return body


def declaration_body(sealed: bytes, form: str = "ncovi") -> dict[str, Any]:
    return {"sealed": base64.b64encode(sealed).decode(), "form": form}


def decoy_steps(kind: str = "report") -> list[tuple[str, dict[str, Any]]]:
    """The (path, body) of each request of a decoy, in the order a real one makes them.

    ``report``: verify, certificate, publish, with random values of the real
    shapes; ``declaration``: one declaration of the size a one-block sealed
    declaration has. Every body pads to the same size as its real counterpart."""
    if kind == "report":
        token = "bzt_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        return [("/v1/verify", verify_body(f"{secrets.randbelow(10 ** 8):08d}")),
                ("/v1/certificate", certificate_body(token, secrets.token_bytes(32))),
                ("/v1/publish", decoy_body())]
    if kind == "declaration":
        return [("/v1/declarations", declaration_body(secrets.token_bytes(DECOY_SEALED_BYTES)))]
    raise ValueError(f"unknown decoy kind {kind!r}; expected one of {DECOY_KINDS}")


#: What a decoy imitates: a report (keys with a code) or a sealed declaration.
DECOY_KINDS = ("report", "declaration")
#: A sealed declaration of one plaintext block (48 bytes of sealed-box overhead + 4096).
DECOY_SEALED_BYTES = 48 + 4096


def decoy_body() -> dict[str, Any]:
    """Shaped like a publish of a few keys; padding makes every body the same size anyway."""
    return {"temporaryExposureKeys": [{"key": base64.b64encode(secrets.token_bytes(16)).decode(),
                                       "rollingStartNumber": 0, "rollingPeriod": 144, "transmissionRisk": 0}
                                      for _ in range(14)],
            "verificationPayload": base64.urlsafe_b64encode(secrets.token_bytes(420)).decode(),
            "hmacKey": base64.b64encode(secrets.token_bytes(32)).decode()}


def parse_verified(data: dict[str, Any]) -> VerifiedCode:
    try:
        return VerifiedCode(str(data["token"]), int(data["reportType"]), data.get("symptomOnsetInterval"),
                            data.get("testDateInterval"), int(data["expiresAt"]))
    except (KeyError, TypeError, ValueError) as e:
        raise TransportError("bad_response", str(_("unexpected verify answer: {detail}", detail=e))) from None


def parse_receipt(data: dict[str, Any]) -> UploadReceipt:
    try:
        return UploadReceipt(int(data["insertedExposures"]), str(data.get("revisionToken", "")),
                             int(data.get("revisedExposures", 0)))
    except (KeyError, TypeError, ValueError) as e:
        raise TransportError("bad_response", str(_("unexpected publish answer: {detail}", detail=e))) from None


#: A server's error code and message are cut to these lengths: they are the
#: server's (or a mirror's, or a proxy's) words and end up on one line of a
#: terminal; the server's own codes and messages are far shorter.
MAX_ERROR_CODE = 64
MAX_ERROR_MESSAGE = 300


def error_from(status: int, data: Any) -> TransportError:
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return TransportError(str(err.get("code", "http_error"))[:MAX_ERROR_CODE],
                              str(err.get("message", ""))[:MAX_ERROR_MESSAGE], status,
                              retryable=status >= 500 or status == 429)
    return TransportError("http_error", f"HTTP {status}", status, retryable=status >= 500 or status == 429)


def check_batch_name(name: str) -> str:
    """``name`` when it is a plain ``*.zip`` file name that cannot leave the feed folder."""
    if (not name or name.startswith(".") or "\\" in name or "/" in name or "\x00" in name
            or not name.endswith(".zip")):
        raise TransportError("bad_index", str(_("unexpected batch name: {name!r}", name=name)))
    return name


def parse_index(text: str) -> list[str]:
    """Batch names of an index, oldest first, each listed once; rejects names
    that could escape the feed folder."""
    names: list[str] = []
    listed: set[str] = set()
    for line in text.splitlines():
        name = line.strip().rsplit("/", 1)[-1]
        if not name:
            continue
        try:
            check_batch_name(name)
        except TransportError:
            raise TransportError("bad_index", str(_("unexpected entry in index: {line!r}", line=line))) from None
        if name not in listed:
            listed.add(name)
            names.append(name)
    return names
