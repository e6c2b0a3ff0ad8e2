"""The GAEN diagnosis-key export format: how published keys travel.

A published batch is a zip of ``export.bin`` (the 16-byte ``"EK Export v1"``
header and a ``TemporaryExposureKeyExport`` protobuf) and ``export.sig`` (a
``TEKSignatureList`` with ECDSA P-256 / SHA-256 signatures over the whole
``export.bin``). Following the format byte for byte means exports written here
verify in other GAEN servers' and phones' code, and theirs verify here.

* :func:`write_export` builds and signs a zip (the authority server uses it).
* :func:`read_export` checks and parses one (devices, the CLI).
* :func:`iter_export_keys` streams the keys of one file.

See ``docs/export.md``.
"""

from .errors import ExportError
from .format import EXPORT_HEADER, OTHER_PROVINCE_REGION, SIGNATURE_ALGORITHM, ExportFile, SignatureInfo
from .keys import load_private_key, load_public_key
from .reader import iter_export_keys, parse_export_bin, read_export, unzip_export
from .writer import build_export_bin, write_export

__all__ = [
    "OTHER_PROVINCE_REGION",
    "EXPORT_HEADER",
    "SIGNATURE_ALGORITHM",
    "ExportError",
    "ExportFile",
    "SignatureInfo",
    "build_export_bin",
    "iter_export_keys",
    "load_private_key",
    "load_public_key",
    "parse_export_bin",
    "read_export",
    "unzip_export",
    "write_export",
]
