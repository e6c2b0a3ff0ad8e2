"""Constants and the parsed form of an export file.

Kept apart from the reader and writer so code that only needs the shapes
(the CLI, the server's listing) imports no protobuf machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import ExposureKey

#: ``"EK Export v1"`` right-padded with spaces to 16 bytes (the GAEN export file format).
EXPORT_HEADER = b"EK Export v1    "
assert len(EXPORT_HEADER) == 16
#: ASN.1 OID of ECDSA with SHA-256 (the only algorithm GAEN defines).
SIGNATURE_ALGORITHM = "1.2.840.10045.4.3.2"
BIN_NAME = "export.bin"
SIG_NAME = "export.sig"
#: Refuse to inflate more than this (a 500,000-key file is about 17 MB).
MAX_ENTRY_BYTES = 64 * 1024 * 1024
#: The export format allows at most this many signature infos.
MAX_SIGNATURES = 10


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """Which key signed (or should verify) an export."""

    key_id: str
    key_version: str = "v1"
    algorithm: str = SIGNATURE_ALGORITHM


#: The ``region`` of an export file holding keys a province imported from
#: other provinces through the national gateway (docs/federation.md): GAEN
#: keys have no origin field, so the file says it, and only as "another
#: province" -- never which one.
OTHER_PROVINCE_REGION = "other-province"


@dataclass(slots=True)
class ExportFile:
    """One parsed export. ``verified_key_id`` names the key whose signature
    checked out (``None`` when the caller did not ask for verification)."""

    keys: list[ExposureKey]
    region: str
    batch_num: int
    batch_size: int
    start_timestamp: int
    end_timestamp: int
    signature_infos: list[SignatureInfo]
    revised_keys: list[ExposureKey] = field(default_factory=list)
    verified_key_id: str | None = None
    export_bin_size: int = 0
