"""Reading and verifying export files.

Every way a file can be wrong ends in one :class:`ExportError` with a
one-line reason: not a zip or truncated, entries missing, bad header,
protobuf that does not parse, malformed keys, a signature that does not
verify. Nothing is half-returned: a caller gets all the keys or an error.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message import DecodeError

from ..models import INTERVALS_PER_DAY, ExposureKey, ReportType
from . import export_pb2 as pb
from .errors import ExportError
from .format import (
    BIN_NAME,
    EXPORT_HEADER,
    MAX_ENTRY_BYTES,
    MAX_SIGNATURES,
    SIG_NAME,
    SIGNATURE_ALGORITHM,
    ExportFile,
    SignatureInfo,
)
from .keys import load_public_key

#: A row per key, as the matcher wants it (no object per key):
#: (key_data, rolling_start, rolling_period, report_type, dsos or None, transmission_risk).
KeyRow = tuple[bytes, int, int, int, "int | None", int]
_REPORT_TYPES = frozenset(int(r) for r in ReportType)


def unzip_export(data: bytes) -> tuple[bytes, bytes]:
    """``(export.bin, export.sig)`` from the zip bytes."""
    if not data:
        raise ExportError("empty file, not an export zip")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            missing = [n for n in (BIN_NAME, SIG_NAME) if n not in names]
            if missing:
                raise ExportError(f"zip has no {' or '.join(missing)} (found: {', '.join(names) or 'nothing'})")
            extra = sorted(set(names) - {BIN_NAME, SIG_NAME})
            if extra:
                raise ExportError(f"zip has unexpected entries: {', '.join(extra)}")
            out = []
            for name in (BIN_NAME, SIG_NAME):
                if zf.getinfo(name).file_size > MAX_ENTRY_BYTES:
                    raise ExportError(f"{name} is larger than {MAX_ENTRY_BYTES} bytes")
                with zf.open(name) as f:
                    blob = f.read(MAX_ENTRY_BYTES + 1)
                if len(blob) > MAX_ENTRY_BYTES:
                    raise ExportError(f"{name} is larger than {MAX_ENTRY_BYTES} bytes")
                out.append(blob)
            return out[0], out[1]
    except ExportError:
        raise
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError) as e:
        raise ExportError(f"not a readable zip (truncated or corrupt): {e}") from None
    except Exception as e:  # zlib.error and friends from a damaged deflate stream
        raise ExportError(f"not a readable zip (truncated or corrupt): {type(e).__name__}: {e}") from None


def parse_export_bin(export_bin: bytes) -> Any:
    """The ``TemporaryExposureKeyExport`` message after checking the header."""
    if len(export_bin) < len(EXPORT_HEADER):
        raise ExportError(f"export.bin is {len(export_bin)} bytes, shorter than its 16-byte header")
    if export_bin[: len(EXPORT_HEADER)] != EXPORT_HEADER:
        raise ExportError(
            f"export.bin has a bad header {export_bin[:16]!r}, expected {EXPORT_HEADER!r}"
        )
    message = pb.TemporaryExposureKeyExport()
    try:
        message.ParseFromString(export_bin[len(EXPORT_HEADER):])
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ExportError(f"export.bin does not parse as TemporaryExposureKeyExport: {e}") from None
    if len(message.signature_infos) > MAX_SIGNATURES:
        raise ExportError(f"export.bin lists {len(message.signature_infos)} signature infos, at most {MAX_SIGNATURES}")
    return message


def _parse_signatures(export_sig: bytes) -> Any:
    sig_list = pb.TEKSignatureList()
    try:
        sig_list.ParseFromString(export_sig)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ExportError(f"export.sig does not parse as TEKSignatureList: {e}") from None
    if not sig_list.signatures:
        raise ExportError("export.sig holds no signature")
    return sig_list


def _trusted(public_keys: Iterable[Any]) -> list[tuple[str | None, str | None, ec.EllipticCurvePublicKey]]:
    """Normalise keys: objects/PEM, or dicts ``{key_id, key_version, pem}`` as
    :meth:`bluezone.config.Config.export_public_keys` returns them."""
    out = []
    for entry in public_keys:
        if isinstance(entry, dict):
            key = entry.get("pem") or entry.get("public_key") or entry.get("key")
            out.append((entry.get("key_id"), entry.get("key_version"), load_public_key(key)))
        else:
            out.append((None, None, load_public_key(entry)))
    return out


def verify_signature(export_bin: bytes, export_sig: bytes, public_keys: Iterable[Any]) -> str:
    """Check that some signature in ``export.sig`` verifies over the whole
    ``export.bin`` with one of ``public_keys``; returns the signing key id.

    A trusted key that names a ``key_id`` (and ``key_version``) is only tried
    against signatures that claim that id, as a phone picks the key by the
    signature info.
    """
    trusted = _trusted(public_keys)
    if not trusted:
        raise ExportError("no public key given to verify export.sig")
    sig_list = _parse_signatures(export_sig)
    tried = 0
    for sig in sig_list.signatures:
        info = sig.signature_info
        if info.signature_algorithm not in ("", SIGNATURE_ALGORITHM):
            continue
        for key_id, key_version, key in trusted:
            if key_id is not None and info.verification_key_id != key_id:
                continue
            if key_version and info.verification_key_version and info.verification_key_version != key_version:
                continue
            tried += 1
            try:
                key.verify(sig.signature, export_bin, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return info.verification_key_id
    if not tried:
        found = ", ".join(
            f"{s.signature_info.verification_key_id!r}/{s.signature_info.verification_key_version!r}"
            f" ({s.signature_info.signature_algorithm or 'no algorithm'})"
            for s in sig_list.signatures
        )
        raise ExportError(f"export.sig: no signature by a trusted key id (signatures found: {found})")
    raise ExportError("export.sig: signature does not verify with the given public key(s)")


def key_rows(keys: Any, key_length: int | None = 16, what: str = "keys") -> Iterator[KeyRow]:
    """Check and yield each key of a parsed export as a :data:`KeyRow`.

    Raises :class:`ExportError` naming the first malformed key. ``key_length``
    ``None`` accepts any length the key schedules use (16 or 32 bytes).
    """
    lengths = (16, 32) if key_length is None else (key_length,)
    for i, k in enumerate(keys):
        data = k.key_data
        if len(data) not in lengths:
            raise ExportError(f"{what}[{i}]: key_data is {len(data)} bytes, expected {' or '.join(map(str, lengths))}")
        period = k.rolling_period
        if not 1 <= period <= INTERVALS_PER_DAY:
            raise ExportError(f"{what}[{i}]: rolling_period {period} is outside 1..{INTERVALS_PER_DAY}")
        start = k.rolling_start_interval_number
        if start < 0:
            raise ExportError(f"{what}[{i}]: rolling_start_interval_number {start} is negative")
        report = k.report_type
        if report not in _REPORT_TYPES:
            raise ExportError(f"{what}[{i}]: unknown report_type {report}")
        trl = k.transmission_risk_level
        if not 0 <= trl <= 8:
            raise ExportError(f"{what}[{i}]: transmission_risk_level {trl} is outside 0..8")
        dsos = k.days_since_onset_of_symptoms if k.HasField("days_since_onset_of_symptoms") else None
        if dsos is not None and not -14 <= dsos <= 14:
            # The Google key server stores such keys without DSOS; do the same.
            dsos = None
        yield data, start, period, report, dsos, trl


def _row_to_key(row: KeyRow) -> ExposureKey:
    data, start, period, report, dsos, trl = row
    return ExposureKey(data, start, period, trl, ReportType(report), dsos)


def _open(data: bytes, public_keys: Iterable[Any] | None) -> tuple[bytes, Any, str | None]:
    export_bin, export_sig = unzip_export(data)
    message = parse_export_bin(export_bin)
    verified = None
    if public_keys is not None:
        verified = verify_signature(export_bin, export_sig, public_keys)
    else:
        _parse_signatures(export_sig)  # still a well-formed file, even unverified
    return export_bin, message, verified


def read_export(
    data: bytes, public_keys: Iterable[Any] | None = None, *, key_length: int | None = 16
) -> ExportFile:
    """Parse (and, when ``public_keys`` are given, verify) one export zip.

    ``public_keys``: key objects, PEM text/bytes, paths, or dicts with
    ``key_id``/``key_version``/``pem``. Raises :class:`ExportError`.
    """
    export_bin, message, verified = _open(data, public_keys)
    keys = [_row_to_key(r) for r in key_rows(message.keys, key_length)]
    revised = [_row_to_key(r) for r in key_rows(message.revised_keys, key_length, "revised_keys")]
    return ExportFile(
        keys=keys,
        region=message.region,
        batch_num=message.batch_num,
        batch_size=message.batch_size,
        start_timestamp=message.start_timestamp,
        end_timestamp=message.end_timestamp,
        signature_infos=[
            SignatureInfo(s.verification_key_id, s.verification_key_version, s.signature_algorithm)
            for s in message.signature_infos
        ],
        revised_keys=revised,
        verified_key_id=verified,
        export_bin_size=len(export_bin),
    )


def open_export_rows(
    data: bytes, public_keys: Iterable[Any] | None = None, *, key_length: int | None = 16
) -> tuple[Any, Iterator[KeyRow]]:
    """Verify and parse, then hand back ``(message, rows)``: the matcher's
    entry point. Rows are produced lazily, so no per-key objects pile up."""
    _, message, _ = _open(data, public_keys)
    return message, key_rows(message.keys, key_length)


def iter_export_keys(
    data: bytes, public_keys: Iterable[Any] | None = None, *, key_length: int | None = 16
) -> Iterator[ExposureKey]:
    """The keys of one export, one at a time. The file is verified and
    parsed here, before any key is produced (errors surface at the call);
    memory is one parsed file, not one Python object per key."""
    _, rows = open_export_rows(data, public_keys, key_length=key_length)
    return map(_row_to_key, rows)
