"""Per-device calibration: TX power and RSSI correction by phone model.

Phones differ by 10 dB and more in how loud they transmit and how they read
received power, so GAEN normalises both with a table: the *transmitter*
writes its calibrated TX power into the advertisement's metadata, and the
*receiver* adds its own RSSI correction, giving

    attenuation = TX − (RSSI + rssi_correction)

The packaged default is Google's published GAEN calibration table of
13 June 2020 (``en_calibration_2020-06-13.csv``, unchanged; provenance in
``CALIBRATION_SOURCE.txt`` beside it and in docs/ble.md): 9 895 Android
models, values normalised to an iPhone. A deployment may point
``[ble] calibration_file`` at another file in any of three layouts, all
read: Bluezone's (``manufacturer, model, tx_power, rssi_correction,
confidence``), Google's August 2020 one (``manufacturer, device, model,
rssi_correction, tx, calibration_confidence``) and Google's June 2020 one
(``oem, model, rssi correction (…), tx (…), has direct measurement``).

A model the table does not list falls back the way GAEN's confidence levels
describe: to the median of its manufacturer's rows with confidence LOW (1,
"average over the manufacturer's devices"), and for an unknown manufacturer
to the median of the whole table with confidence LOWEST (0, "no
calibration data"). Both are computed from the table, so no figure here is
made up; a file with its own ``*`` rows keeps them.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bluezone import make_gaen_metadata as make_metadata
from bluezone.i18n import _

#: Store meta key holding this device's own calibration (JSON). The matcher
#: reads ``rssi_correction`` from it; see docs/ble.md.
STORE_META_KEY = "calibration"
#: Store meta key the core matcher (``bluezone.matching``) reads the RSSI
#: correction from, in dB.
RSSI_CORRECTION_META = "rssi_correction_db"
#: Metadata version byte for GAEN v1.1 (major 1, minor 1); confidence goes in bits 3..2.
METADATA_V1_1 = 0x50
#: The packaged default table (Google's, unchanged).
DEFAULT_TABLE = "en_calibration_2020-06-13.csv"
#: GAEN calibration confidence levels.
LOWEST, LOW, MEDIUM, HIGH = 0, 1, 2, 3


class CalibrationError(ValueError):
    """A calibration file or entry is malformed."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """One row of the table: a phone model's radio figures."""

    manufacturer: str
    model: str
    tx_power: int
    rssi_correction: int
    confidence: int

    def metadata(self) -> bytes:
        """The 4 plaintext metadata bytes this phone broadcasts (GAEN v1.1:
        version byte carries the calibration confidence, byte 1 the TX power)."""
        return make_metadata(self.tx_power, METADATA_V1_1 | (self.confidence & 0x3) << 2)

    def attenuation(self, tx_power: int, rssi: float) -> float:
        """Attenuation of a packet this phone received from a sender whose
        metadata said ``tx_power``; floored at 0 as GAEN does."""
        return attenuation(tx_power, rssi, self.rssi_correction)


def attenuation(tx_power: int, rssi: float, rssi_correction: int = 0) -> float:
    """GAEN attenuation in dB: TX − (RSSI + correction), never below 0."""
    return max(0.0, tx_power - (rssi + rssi_correction))


def confidence_from_metadata(metadata: bytes) -> int | None:
    """The calibration confidence a v1.1 metadata block carries (``None`` for v1.0)."""
    if not metadata:
        return None
    version = metadata[0]
    if version & 0xF0 != METADATA_V1_1:
        return None
    return (version >> 2) & 0x3


def _int(row: dict[str, str], *names: str, line: int) -> int:
    for n in names:
        if n in row and row[n] not in (None, ""):
            try:
                return int(float(row[n]))
            except ValueError:
                raise CalibrationError(_("Line {line}: {column} is not a number: {value}", line=line, column=n,
                                         value=repr(row[n]))) from None
    raise CalibrationError(_("Line {line}: missing {column}", line=line, column=" / ".join(names)))


class CalibrationTable:
    """Rows by (manufacturer, model), looked up case-insensitively, falling
    back to the manufacturer's ``*`` row and then to the ``*,*`` default."""

    def __init__(self, rows: list[Calibration]):
        self.rows = list(rows)
        self._index = {(r.manufacturer.casefold(), r.model.casefold()): r for r in self.rows}
        if ("*", "*") not in self._index:
            raise CalibrationError(_("A calibration table needs a default row with manufacturer and model '*'"))

    @classmethod
    def parse(cls, text: str) -> "CalibrationTable":
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        fields = {_column(f) for f in (reader.fieldnames or [])}
        if "manufacturer" not in fields or "model" not in fields:
            raise CalibrationError(_("A calibration CSV needs the columns manufacturer and model"))
        rows = []
        for n, raw in enumerate(reader, 2):
            row = {_column(k): (v or "").strip() for k, v in raw.items() if k}
            if "has direct measurement" in row and "confidence" not in row:
                # Google's June 2020 layout: measured for this model, or estimated from a similar one
                row["confidence"] = str(HIGH if row["has direct measurement"].lower() == "yes" else MEDIUM)
            confidence = _int(row, "confidence", "calibration_confidence", line=n)
            if not 0 <= confidence <= 3:
                raise CalibrationError(_("Line {line}: confidence must be 0..3, got {value}", line=n, value=confidence))
            tx = _int(row, "tx_power", "tx", line=n)
            if not -128 <= tx <= 127:
                raise CalibrationError(_("Line {line}: tx_power {value} does not fit a signed byte", line=n, value=tx))
            rows.append(Calibration(row["manufacturer"], row["model"], tx,
                                    _int(row, "rssi_correction", line=n), confidence))
        if not rows:
            raise CalibrationError(_("The calibration file has no rows"))
        return cls(rows + fallback_rows(rows))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "CalibrationTable":
        """The shipped table, or a deployment's own file."""
        if path is None:
            text = resources.files(__package__).joinpath(DEFAULT_TABLE).read_text("utf-8")
        else:
            try:
                text = Path(path).read_text("utf-8")
            except OSError as e:
                raise CalibrationError(_("Cannot read the calibration file {path}: {reason}", path=path,
                                         reason=e.strerror)) from None
        return cls.parse(text)

    def lookup(self, manufacturer: str = "*", model: str = "*") -> Calibration:
        m, d = manufacturer.casefold(), model.casefold()
        return self._index.get((m, d)) or self._index.get((m, "*")) or self._index[("*", "*")]

    @property
    def default(self) -> Calibration:
        return self._index[("*", "*")]


def _column(name: str) -> str:
    """A header cell in Bluezone's terms: Google's June 2020 headers carry an
    explanation in brackets (``rssi correction (android rssi + …)``)."""
    key = name.split("(")[0].strip().lower()
    return {"oem": "manufacturer", "rssi correction": "rssi_correction"}.get(key, key)


def fallback_rows(rows: list[Calibration]) -> list[Calibration]:
    """The ``*`` rows a table lacks: per manufacturer the median of its rows
    (confidence LOW), and overall the median of every row (LOWEST)."""
    have = {(r.manufacturer.casefold(), r.model) for r in rows if r.model == "*"}
    by_maker: dict[str, list[Calibration]] = defaultdict(list)
    for r in rows:
        if r.model != "*" and r.manufacturer != "*":
            by_maker[r.manufacturer].append(r)
    out = [_median(maker, group, LOW) for maker, group in sorted(by_maker.items())
           if (maker.casefold(), "*") not in have]
    measured = [r for group in by_maker.values() for r in group]
    if ("*", "*") not in have:
        out.append(_median("*", measured or rows, LOWEST))
    return out


def _median(manufacturer: str, rows: list[Calibration], confidence: int) -> Calibration:
    return Calibration(manufacturer, "*", round(statistics.median(r.tx_power for r in rows)),
                       round(statistics.median(r.rssi_correction for r in rows)), confidence)


def own_calibration(ble_section: dict[str, Any] | None = None) -> Calibration:
    """This phone's calibration from the deployment's ``[ble]`` section
    (``manufacturer``, ``model``, optional ``calibration_file``)."""
    section = ble_section or {}
    table = CalibrationTable.load(section.get("calibration_file"))
    return table.lookup(section.get("manufacturer", "*"), section.get("model", "*"))


def save_to_store(store: Any, calibration: Calibration) -> None:
    """Record the device's own calibration where the matcher finds it."""
    store.set_meta(STORE_META_KEY, json.dumps(asdict(calibration), sort_keys=True))
    store.set_meta(RSSI_CORRECTION_META, str(calibration.rssi_correction))


def load_from_store(store: Any) -> Calibration | None:
    raw = store.get_meta(STORE_META_KEY)
    return Calibration(**json.loads(raw)) if raw else None
