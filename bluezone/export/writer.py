"""Writing and signing export files (used by the authority server and tests)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..models import INTERVALS_PER_DAY, ExposureKey
from . import export_pb2 as pb
from .errors import ExportError
from .format import BIN_NAME, EXPORT_HEADER, SIG_NAME, SIGNATURE_ALGORITHM
from .keys import load_private_key

#: Fixed zip timestamp so the same input gives the same bytes (the Google
#: server writes 1980 dates too).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _fill_key(msg: Any, key: ExposureKey) -> None:
    msg.key_data = key.key_data
    msg.transmission_risk_level = key.transmission_risk_level
    msg.rolling_start_interval_number = key.rolling_start_interval_number
    if key.rolling_period != INTERVALS_PER_DAY:  # the proto default; omitted as the spec says
        msg.rolling_period = key.rolling_period
    if key.report_type:
        msg.report_type = int(key.report_type)
    if key.days_since_onset_of_symptoms is not None:
        msg.days_since_onset_of_symptoms = key.days_since_onset_of_symptoms


def _checked(keys: Iterable[ExposureKey], what: str) -> list[ExposureKey]:
    out = sorted(keys, key=lambda k: k.key_data)
    for i, key in enumerate(out):
        problems = key.problems(len(key.key_data) if len(key.key_data) in (16, 32) else 16)
        if problems:
            raise ExportError(f"{what}[{i}]: {problems[0]}")
    return out


def build_export_bin(
    keys: Iterable[ExposureKey],
    *,
    region: str,
    batch_num: int = 1,
    batch_size: int = 1,
    start_timestamp: int,
    end_timestamp: int,
    key_id: str,
    key_version: str = "v1",
    revised_keys: Iterable[ExposureKey] = (),
) -> bytes:
    """The header and the serialized ``TemporaryExposureKeyExport``, keys
    sorted by key bytes (as the format requires)."""
    if not 1 <= batch_num <= batch_size:
        raise ExportError(f"batch_num must be 1..batch_size, got {batch_num} of {batch_size}")
    if not 0 <= start_timestamp <= end_timestamp:
        raise ExportError("start_timestamp must be >= 0 and <= end_timestamp")
    export = pb.TemporaryExposureKeyExport(
        start_timestamp=start_timestamp,
        end_timestamp=end_timestamp,
        region=region,
        batch_num=batch_num,
        batch_size=batch_size,
    )
    info = export.signature_infos.add()
    info.verification_key_version = key_version
    info.verification_key_id = key_id
    info.signature_algorithm = SIGNATURE_ALGORITHM
    for key in _checked(keys, "keys"):
        _fill_key(export.keys.add(), key)
    for key in _checked(revised_keys, "revised_keys"):
        _fill_key(export.revised_keys.add(), key)
    return EXPORT_HEADER + export.SerializeToString()


def sign_export_bin(
    export_bin: bytes,
    signing_key: Any,
    *,
    key_id: str,
    key_version: str = "v1",
    batch_num: int = 1,
    batch_size: int = 1,
) -> bytes:
    """The serialized ``TEKSignatureList``: one ECDSA P-256 / SHA-256 DER
    signature over the whole ``export.bin``."""
    key = load_private_key(signing_key)
    sig_list = pb.TEKSignatureList()
    sig = sig_list.signatures.add()
    sig.signature_info.verification_key_version = key_version
    sig.signature_info.verification_key_id = key_id
    sig.signature_info.signature_algorithm = SIGNATURE_ALGORITHM
    sig.batch_num = batch_num
    sig.batch_size = batch_size
    sig.signature = key.sign(export_bin, ec.ECDSA(hashes.SHA256()))
    return sig_list.SerializeToString()


def zip_export(export_bin: bytes, export_sig: bytes) -> bytes:
    """The two entries in a zip, deterministic apart from the signature."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in ((BIN_NAME, export_bin), (SIG_NAME, export_sig)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def write_export(
    keys: Iterable[ExposureKey],
    signing_key: Any,
    *,
    region: str,
    batch_num: int = 1,
    batch_size: int = 1,
    start_timestamp: int,
    end_timestamp: int,
    key_id: str,
    key_version: str = "v1",
    revised_keys: Iterable[ExposureKey] = (),
) -> bytes:
    """A signed export zip (``export.bin`` + ``export.sig``) as bytes.

    ``signing_key`` is a ``cryptography`` P-256 private key (or its PEM).
    Padding with fake keys up to the minimum batch size is the server's job
    (it knows the batch), not this function's.
    """
    key = load_private_key(signing_key)
    export_bin = build_export_bin(
        keys, region=region, batch_num=batch_num, batch_size=batch_size,
        start_timestamp=start_timestamp, end_timestamp=end_timestamp,
        key_id=key_id, key_version=key_version, revised_keys=revised_keys,
    )
    export_sig = sign_export_bin(
        export_bin, key, key_id=key_id, key_version=key_version,
        batch_num=batch_num, batch_size=batch_size,
    )
    return zip_export(export_bin, export_sig)
