"""``ncovi-submitter``: post a declaration to an external NCOVI-style endpoint.

A default plugin shipped in the core package and registered through the
``bluezone`` entry-point group like any other, so a deployment drops it with
``[plugins] disabled = ["ncovi-submitter"]``. It runs only when the
deployment lists ``"ncovi"`` in ``[declarations] submitters`` and configures
``[declarations.ncovi] url``; the interactive client asks the person first,
because unlike the sealed copy this one carries the answers in the clear
(over HTTPS) to a third party.

Mapping: the answers are renamed to the Vietnamese camelCase keys of the
national form (:func:`to_ncovi_json`); dates become ``DD/MM/YYYY``;
province-added fields travel under ``truongBoSung``. Linkage (tier,
exposure date, code) is *not* sent: it is for the health authority only.

Delivery: one ``Idempotency-Key`` per declaration (so a retried request
that did arrive is not counted twice); connection errors, timeouts, HTTP
408/429/5xx are retried with backoff (``Retry-After`` honoured up to the
cap); other 4xx fail at once with the endpoint's message. Every failure ends
as a :class:`SubmitError` that the client reports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from typing import Any

import aiohttp

from ..hookspecs import hookimpl
from ..i18n import _
from ..settings import FROM_SCHEMA, section_settings
from .form import Form
from .ncovi_form import CHRONIC, EXPOSURES, SYMPTOMS
from .submit import RetryPolicy, Submission, SubmitError, with_retries

SOURCE = "bluezone"

_PERSONAL = {
    "full_name": "hoTen", "year_of_birth": "namSinh", "gender": "gioiTinh", "nationality": "quocTich",
    "id_number": "soGiayTo", "phone": "soDienThoai", "email": "email",
}
_TRAVEL = {
    "travel_means": "phuongTien", "vehicle_number": "soHieuPhuongTien", "seat": "soGhe",
    "departure_date": "ngayKhoiHanh", "arrival_date": "ngayDen", "provinces_visited": "tinhThanhDaDen",
}
_ADDRESS = {"address_province": "tinhThanh", "address_district": "quanHuyen",
            "address_ward": "phuongXa", "address_street": "soNhaDuong"}
_SYMPTOMS = {"fever": "sot", "cough": "ho", "difficulty_breathing": "khoTho", "sore_throat": "dauHong",
             "nausea_vomiting": "buonNon", "diarrhoea": "tieuChay", "skin_haemorrhage": "xuatHuyetNgoaiDa",
             "skin_rash": "noiBanNgoaiDa"}
_EXPOSURES = {"close_contact_case": "tiepXucCaBenh", "visited_affected_area": "denVungDich",
              "contact_symptomatic": "tiepXucNguoiCoTrieuChung", "animal_market": "denChoDongVat"}
_GENDER = {"male": "nam", "female": "nu", "other": "khac"}
assert set(_SYMPTOMS) == set(SYMPTOMS) and set(_EXPOSURES) == set(EXPOSURES)

#: The configuration this plugin reads, inside ``[declarations]``.
NCOVI_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "External NCOVI-style endpoint (plaintext over HTTPS; person must agree).",
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 120, "default": 10},
        "attempts": {"type": "integer", "minimum": 1, "maximum": 10, "default": 4},
        "backoff_seconds": {"type": "number", "minimum": 0, "maximum": 60, "default": 0.5},
        "max_backoff_seconds": {"type": "number", "minimum": 0, "maximum": 600, "default": 8},
        "api_key_env": {"type": "string", "description": "environment variable holding a bearer token"},
    },
    "required": ["url"],
    "additionalProperties": False,
}


@section_settings(NCOVI_SCHEMA)
class NcoviSettings:
    """``[declarations.ncovi]``: the external endpoint's address and retry policy."""

    url: str
    timeout_seconds: float = FROM_SCHEMA
    attempts: int = FROM_SCHEMA
    backoff_seconds: float = FROM_SCHEMA
    max_backoff_seconds: float = FROM_SCHEMA
    api_key_env: str | None = FROM_SCHEMA


def _date(value: str | None) -> str | None:
    return dt.date.fromisoformat(value).strftime("%d/%m/%Y") if value else None


def to_ncovi_json(submission: Submission) -> dict[str, Any]:
    """The external endpoint's JSON body for a declaration."""
    d = submission.declaration
    a = d.answers
    form: Form = submission.form
    known = set(_PERSONAL) | set(_TRAVEL) | set(_ADDRESS) | {"chronic_conditions", "consent"}
    known |= {f"symptom_{k}" for k in _SYMPTOMS} | {f"exposure_{k}" for k in _EXPOSURES}
    personal = {v: a.get(k) for k, v in _PERSONAL.items()}
    personal["gioiTinh"] = _GENDER.get(a.get("gender", ""), a.get("gender"))
    travel = {v: a.get(k) for k, v in _TRAVEL.items()}
    travel["ngayKhoiHanh"] = _date(a.get("departure_date"))
    travel["ngayDen"] = _date(a.get("arrival_date"))
    travel["tinhThanhDaDen"] = a.get("provinces_visited", [])
    extra = {f.id: a[f.id] for f in form.fields if f.id in a and f.id not in known}
    body: dict[str, Any] = {
        "phienBan": d.schema,
        "nguon": SOURCE,
        "ngayKhai": _date(d.declared_on.isoformat()),
        "ngonNgu": d.language,
        "thongTinCaNhan": personal,
        "diChuyen": travel,
        "diaChiLienLac": {v: a.get(k) for k, v in _ADDRESS.items()},
        "trieuChung": {v: bool(a.get(f"symptom_{k}")) for k, v in _SYMPTOMS.items()},
        "lichSuPhoiNhiem": {v: bool(a.get(f"exposure_{k}")) for k, v in _EXPOSURES.items()},
        "benhNen": [c for c in a.get("chronic_conditions", []) if c in CHRONIC],
        "camKet": a.get("consent") is True,
    }
    if extra:
        body["truongBoSung"] = extra
    return body


class NcoviSubmitter:
    """Posts the mapped JSON to ``[declarations.ncovi] url`` with retries."""

    name = "ncovi"

    def __init__(self, config: Any, *, sleep=asyncio.sleep):
        from .plugin import DeclarationsSettings

        settings = config.typed(DeclarationsSettings).ncovi
        if settings is None:
            raise SubmitError(str(_("[declarations.ncovi] url is not configured")))
        self.url: str = settings.url
        self.timeout = aiohttp.ClientTimeout(total=float(settings.timeout_seconds))
        self.policy = RetryPolicy(int(settings.attempts), float(settings.backoff_seconds),
                                  float(settings.max_backoff_seconds))
        self.token_env = settings.api_key_env
        self.sleep = sleep
        self.last_attempts = 0

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        import os

        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": idempotency_key,
                   "User-Agent": "bluezone-ncovi-submitter/1"}
        if self.token_env and os.environ.get(self.token_env):
            headers["Authorization"] = f"Bearer {os.environ[self.token_env]}"
        return headers

    async def submit(self, submission: Submission) -> str:
        body = json.dumps(to_ncovi_json(submission), ensure_ascii=False).encode()
        headers = self._headers(secrets.token_hex(16))
        async with aiohttp.ClientSession(timeout=self.timeout) as session:

            async def attempt(n: int) -> str:
                self.last_attempts = n
                try:
                    async with session.post(self.url, data=body, headers=headers) as resp:
                        text = await resp.text(errors="replace")
                        if resp.status in (200, 201, 202):
                            return _receipt(text, resp.status)
                        err = SubmitError(f"HTTP {resp.status}: {_message(text)}", status=resp.status,
                                          retryable=resp.status in (408, 425, 429) or resp.status >= 500)
                        err.retry_after = _retry_after(resp.headers.get("Retry-After"))  # type: ignore[attr-defined]
                        raise err
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
                    raise SubmitError(f"network: {type(e).__name__}: {e}".rstrip(": "), retryable=True) from None

            receipt, self.last_attempts = await with_retries(attempt, self.policy, self.sleep)
            return receipt


def _message(text: str) -> str:
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            return str(data.get("error") or data.get("message") or text)[:300]
    except json.JSONDecodeError:
        pass
    return text.strip()[:300] or "(empty body)"


def _receipt(text: str, status: int) -> str:
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            for key in ("id", "receipt", "maToKhai"):
                if data.get(key):
                    return str(data[key])
    except json.JSONDecodeError:
        pass
    return f"HTTP {status}"


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value)
    return None


@hookimpl
def bluezone_declaration_submitters() -> dict[str, Any]:
    return {"ncovi": NcoviSubmitter}
