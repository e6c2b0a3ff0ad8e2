"""From matches to GAEN v2 exposure windows.

Per matched key: decrypt each sighting's metadata with the key (through the
deployment's schedule), drop sightings whose TX power is outside
[-50, +20] dBm (a forged or corrupt advertisement), compute attenuation =
TX − (RSSI + calibration correction), floored at 0, and cut the sightings
into windows of at most 30 minutes within one UTC day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import section_defaults
from ..models import (
    ExposureWindow,
    Infectiousness,
    ReportType,
    ScanInstance,
    Tier,
    utc_date,
)
from .matcher import Match

TX_POWER_RANGE_DBM = (-50, 20)
#: GAEN caps the time credited to one scan at 5 minutes and assumes 2 when unknown.
MAX_SECONDS_PER_SCAN = 300
UNKNOWN_SECONDS_PER_SCAN = 120
WINDOW_SECONDS = 30 * 60
#: Schedules whose advertisements carry no TX power (dp3t-lowcost) and
#: sightings without one: attenuation is computed against 0 dBm.
TX_POWER_WHEN_ABSENT_DBM = 0

_REPORT_NAMES = {
    "confirmed_test": ReportType.CONFIRMED_TEST,
    "confirmed_clinical_diagnosis": ReportType.CONFIRMED_CLINICAL_DIAGNOSIS,
    "self_report": ReportType.SELF_REPORT,
    "recursive": ReportType.RECURSIVE,
}


_RISK_DEFAULTS = section_defaults("risk")


def risk_setting(risk: Mapping[str, Any], name: str) -> Any:
    """``risk[name]``, or the ``[risk]`` schema's default when a caller passes a
    partial section (a loaded deployment always has every key)."""
    return risk[name] if name in risk else _RISK_DEFAULTS[name]


def effective_report_type(report_type: int, risk: dict[str, Any]) -> ReportType:
    """The key's report type, or the deployment's ``report_type_when_missing``."""
    rt = ReportType(report_type)
    if rt is ReportType.UNKNOWN:
        return _REPORT_NAMES[risk_setting(risk, "report_type_when_missing")]
    return rt


def uploader_tier(rt: ReportType, risk: Mapping[str, Any]) -> Tier | None:
    """The uploader's tier (:attr:`ReportType.tier`); a self-report counts as a
    case when the deployment says so (``count_self_reports``, as the Corona-Warn-App does)."""
    if rt is ReportType.SELF_REPORT and risk_setting(risk, "count_self_reports"):
        return Tier.F0
    return rt.tier


def infectiousness(dsos: int | None, risk: dict[str, Any]) -> Infectiousness:
    """GAEN v2 infectiousness of a key from its days since symptom onset.

    ``risk`` is a ``[risk]`` section; keys it leaves out take the schema's defaults."""
    if dsos is None:
        return Infectiousness[risk_setting(risk, "infectiousness_when_onset_unknown").upper()]
    ranges = risk_setting(risk, "infectiousness_by_days_since_onset")
    for name, level in (("high", Infectiousness.HIGH), ("standard", Infectiousness.STANDARD)):
        lo, hi = ranges.get(name, (1, 0))
        if lo <= dsos <= hi:
            return level
    return Infectiousness.NONE


@dataclass(frozen=True, slots=True)
class Scan:
    time: int
    instance: ScanInstance


def tx_power_of(match: Match, schedule: Any) -> int | None:
    """The sender's TX power: from the decrypted metadata when the schedule
    carries one, else from the advertisement, else the documented default."""
    s = match.sighting
    if getattr(schedule, "metadata_length", 0) and s.metadata:
        plain = schedule.decrypt_metadata(match.key[0], match.identifier, s.metadata)
        if len(plain) >= 2:
            tx = plain[1]
            return tx - 256 if tx > 127 else tx
        return None
    if s.tx_power is not None:
        return s.tx_power
    if getattr(schedule, "metadata_length", 0):
        return None  # a GAEN sighting without metadata cannot be checked
    return TX_POWER_WHEN_ABSENT_DBM


def scan_of(match: Match, tx: int, rssi_correction: float) -> Scan:
    s = match.sighting
    rssi_max = s.rssi_max if s.rssi_max is not None else s.rssi
    typical = max(0, round(tx - (s.rssi + rssi_correction)))
    minimum = max(0, round(tx - (rssi_max + rssi_correction)))
    seconds = s.seconds_since_last_scan
    seconds = UNKNOWN_SECONDS_PER_SCAN if seconds is None else max(0, min(MAX_SECONDS_PER_SCAN, seconds))
    return Scan(s.time, ScanInstance(typical, min(minimum, typical), seconds))


def build_windows(
    matches: Iterable[Match], schedule: Any, risk: dict[str, Any], rssi_correction: float = 0.0,
) -> tuple[list[ExposureWindow], dict[str, int]]:
    """Exposure windows from matches, and counts of what was dropped and why."""
    by_key: dict[bytes, list[Match]] = defaultdict(list)
    for m in matches:
        by_key[m.key[0]].append(m)
    dropped = {"tx_power": 0, "no_tier": 0, "not_infectious": 0}
    windows: list[ExposureWindow] = []
    lo, hi = TX_POWER_RANGE_DBM
    for key_matches in by_key.values():
        row = key_matches[0].key
        rt = effective_report_type(row[3], risk)
        uploader = uploader_tier(rt, risk)
        if uploader is None:
            dropped["no_tier"] += len(key_matches)
            continue
        inf = infectiousness(row[4], risk)
        if inf is Infectiousness.NONE:
            dropped["not_infectious"] += len(key_matches)
            continue
        scans = []
        seen: set[tuple[int, bytes]] = set()
        for m in key_matches:
            ident = (id(m.sighting), m.identifier)
            if ident in seen:
                continue
            seen.add(ident)
            tx = tx_power_of(m, schedule)
            if tx is None or not lo <= tx <= hi:
                dropped["tx_power"] += 1
                continue
            scans.append(scan_of(m, tx, rssi_correction))
        scans.sort(key=lambda sc: sc.time)
        tier = uploader.exposed_tier()
        current: list[Scan] = []
        for sc in scans:
            if current and (sc.time - current[0].time >= WINDOW_SECONDS
                            or utc_date(sc.time) != utc_date(current[0].time)):
                windows.append(_window(current, rt, inf, tier, row[0]))
                current = []
            current.append(sc)
        if current:
            windows.append(_window(current, rt, inf, tier, row[0]))
    return windows, dropped


def _window(scans: list[Scan], rt: ReportType, inf: Infectiousness, tier: Tier, origin: bytes = b"") -> ExposureWindow:
    return ExposureWindow(utc_date(scans[0].time), rt, inf, tuple(s.instance for s in scans), 0, tier, bytes(origin))


# --- persistence (the store keeps windows as JSON, without keys or identifiers) ---


def window_to_json(w: ExposureWindow) -> str:
    return json.dumps({
        "date": w.date.isoformat(), "report_type": int(w.report_type), "infectiousness": int(w.infectiousness),
        "tier": int(w.tier), "calibration_confidence": w.calibration_confidence,
        "scans": [[s.typical_attenuation_db, s.min_attenuation_db, s.seconds_since_last_scan]
                  for s in w.scan_instances],
    }, separators=(",", ":"))


def window_from_json(text: str) -> ExposureWindow:
    import datetime as dt

    d = json.loads(text)
    return ExposureWindow(
        dt.date.fromisoformat(d["date"]), ReportType(d["report_type"]), Infectiousness(d["infectiousness"]),
        tuple(ScanInstance(*s) for s in d["scans"]), d.get("calibration_confidence", 0), Tier(d["tier"]),
    )
