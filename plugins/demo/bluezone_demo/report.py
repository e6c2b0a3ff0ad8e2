"""The demo's verdict: who was warned at which tier, against the ground truth.

Ground truth is the simulator's: a close contact is at least 15 minutes
within 2 m over the day. F1 truth is the close contacts of F0 plus the
people checked in at the traced office with F0; F2 truth is the close
contacts of the F1 who published, minus everyone who is already F1 (the most
severe tier wins, so an F1 never also gets an F2 warning for the same day).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import statistics
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from bluezone.i18n import N_, _, _n, active_languages, text

from .day import VN_OFFSET
from .province import DemoResult

CLOSE_SECONDS = 15 * 60


@dataclass
class TierScore:
    tier: str
    truth: set[str]
    warned: set[str]

    @property
    def true_positives(self) -> int:
        return len(self.truth & self.warned)

    @property
    def precision(self) -> float | None:
        return self.true_positives / len(self.warned) if self.warned else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / len(self.truth) if self.truth else None


def close_contacts(result: DemoResult, person: str) -> set[str]:
    out = set()
    for (a, b), seconds in result.close_seconds.items():
        if seconds >= CLOSE_SECONDS and person in (a, b):
            out.add(b if a == person else a)
    return out


def warned(result: DemoResult, tier: str, source: str | None = None) -> set[str]:
    """Who was warned at ``tier``. F0 is left out: a confirmed case's phone
    also matches the venue trace of its own visit, which is no exposure."""
    return {c for c, alerts in result.alerts.items() if c != result.patient_zero
            and any(a["tier"] == tier and (source is None or a["source"] == source) for a in alerts)}


def scores(result: DemoResult) -> list[TierScore]:
    f0 = result.patient_zero
    ble_truth = close_contacts(result, f0) - {f0}
    venue_truth = set(result.checked_in) - {f0}
    f1_truth = ble_truth | venue_truth
    rows = [
        TierScore(N_("F1 (Bluetooth)"), ble_truth, warned(result, "F1", "ble")),
        TierScore(N_("F1 (any: Bluetooth or venue)"), f1_truth, warned(result, "F1")),
        TierScore(N_("venue check-in (co-visitors of F0)"), venue_truth, warned(result, "F1") & venue_truth
                  | warned(result, "F1", "venue")),
    ]
    if result.published_f1:
        f2_truth = close_contacts(result, result.published_f1) - {f0, result.published_f1} - f1_truth
        rows.append(TierScore(N_("F2 (contacts of the F1 who published)"), f2_truth, warned(result, "F2")))
    return rows


#: The summary table's column headings.
COLUMNS = (N_("tier"), N_("truth"), N_("warned"), N_("correct"), N_("precision"), N_("recall"))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def summary_lines(result: DemoResult) -> list[str]:
    rows = scores(result)
    per_client = list(result.bytes_downloaded.values())
    header = [text(h) for h in COLUMNS]
    lines = [
        text(_("Summary")),
        "  " + text(_("F0: {f0}; F1 who published for F2: {f1}", f0=result.patient_zero,
                      f1=result.published_f1 or "—")),
        "  " + text(_("real keys per export: {keys} (each padded with fake keys)",
                      keys=", ".join(map(str, result.export_keys)))),
        "  {:42} {:>5} {:>6} {:>7} {:>9} {:>7}".format(*header),
    ]
    for r in rows:
        lines.append("  {:42} {:5d} {:6d} {:7d} {:>9} {:>7}".format(
            text(r.tier), len(r.truth), len(r.warned), r.true_positives, _pct(r.precision), _pct(r.recall)))
    no_alert = sum(1 for a in result.alerts.values() if not a)
    lines += [
        "  " + text(_("not warned: {n} of {total} citizens", n=no_alert, total=len(result.alerts))),
        "  " + text(_("declarations: {sent} sealed and sent; the server holds {held} ciphertexts it cannot read",
                      sent=result.declarations_sent, held=result.declarations_at_server)),
        "  " + text(_("downloaded per phone: mean {mean} KiB (min {low}, max {high})",
                      mean=round(statistics.mean(per_client) / 1024, 1), low=round(min(per_client) / 1024, 1),
                      high=round(max(per_client) / 1024, 1))),
        "  " + text(_("time taken: {seconds} s", seconds=round(result.total_seconds, 1))),
    ]
    lines += [f"    {s.seconds:6.1f} s  {s.name}" for s in result.steps]
    return lines


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def timeline_plot(result: DemoResult) -> str:
    """Exposure timeline: for each warned person, the places they shared with
    F0 (red) or the publishing F1 (blue), by hour of the day (Vietnam time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plan = result.plan
    people = [result.patient_zero] + ([result.published_f1] if result.published_f1 else [])
    people += sorted(c for c, a in result.alerts.items() if a and c not in people)
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.28 * len(people) + 1)))
    for y, person in enumerate(people):
        for offset, source, colour in ((-0.18, result.patient_zero, "#c0392b"),
                                       (0.18, result.published_f1, "#2e86c1")):
            if not source or source == person:
                continue
            for g in plan.shared_groups(person, source):
                start = (g.phase.start + VN_OFFSET) / 3600
                ax.barh(y + offset, g.phase.duration / 3600, left=start, color=colour, alpha=0.85, height=0.34)
        tiers = set() if person == result.patient_zero else {a["tier"] for a in result.alerts.get(person, [])}
        label = person + (" (F0)" if person == result.patient_zero else "") + \
            (" " + text(_("(F1, published)")) if person == result.published_f1 else "") + \
            (f" → {'/'.join(sorted(tiers))}" if tiers else "")
        ax.text(20.2, y, label, va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(6.5, 23)
    ax.set_xticks(range(7, 21))
    ax.set_xlabel(text(_("hour of the day (UTC+7)")))
    ax.set_title(text(_("Exposure timeline — red: with F0, blue: with the F1 who published")))
    ax.invert_yaxis()
    data = _png(fig)
    plt.close(fig)
    return data


def graph_plot(result: DemoResult) -> str:
    """The F0 → F1 → F2 graph; solid edges are confirmed by the ground truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f0, pub = result.patient_zero, result.published_f1
    f1 = sorted(warned(result, "F1") - {f0})
    f2 = sorted(warned(result, "F2"))
    truth0, truth1 = close_contacts(result, f0) | set(result.checked_in), close_contacts(result, pub) if pub else set()
    pos = {f0: (0.0, 0.5)}
    for column, names in ((1.0, f1), (2.0, f2)):
        for i, n in enumerate(names):
            pos[n] = (column, (i + 1) / (len(names) + 1))
    fig, ax = plt.subplots(figsize=(9, max(3, 0.22 * max(len(f1), len(f2), 1) + 1)))
    for target in f1:
        ok = target in truth0
        ax.plot(*zip(pos[f0], pos[target], strict=True), color="#c0392b" if ok else "#999", ls="-" if ok else "--", lw=0.8)
    for target in f2:
        if pub in pos:
            ok = target in truth1
            ax.plot(*zip(pos[pub], pos[target], strict=True), color="#2e86c1" if ok else "#999", ls="-" if ok else "--", lw=0.8)
    for name, (x, y) in pos.items():
        if name == f0:
            ax.scatter([x], [y], s=160, color="#c0392b")
            ax.text(x + 0.04, y, f"{name} (F0)", fontsize=8, va="center")
            continue
        venue_only = any(a["source"] == "venue" for a in result.alerts.get(name, []))
        colour = "#c0392b" if name == f0 else "#e67e22" if x == 1.0 else "#f1c40f"
        ax.scatter([x], [y], s=60 if name not in (f0, pub) else 140, color=colour,
                   edgecolors="#2c3e50" if name == pub else ("#2980b9" if venue_only else "none"), linewidths=2)
        ax.text(x + 0.04, y, name + (" " + text(_("(venue)")) if venue_only else ""), fontsize=7, va="center")
    ax.set_xlim(-0.2, 2.6)
    ax.set_xticks([0, 1, 2], ["F0", "F1", "F2"])
    ax.set_yticks([])
    ax.set_title(text(_("F0 → F1 → F2 (dashed: warned without a true close contact; blue ring: venue warning)")))
    data = _png(fig)
    plt.close(fig)
    return data


def write_result_json(result: DemoResult) -> Path:
    """The day's facts as JSON (``result.json``), for scripts and tests."""
    import json

    data = {
        "day_start": result.day_start, "patient_zero": result.patient_zero, "published_f1": result.published_f1,
        "groups": [{"name": g.name, "members": g.members} for g in result.plan.groups],
        "checked_in": result.checked_in,
        "close_pairs": sorted([a, b] for (a, b), sec in result.close_seconds.items() if sec >= CLOSE_SECONDS),
        "alerts": result.alerts, "bytes_downloaded": result.bytes_downloaded,
        "declarations_sent": result.declarations_sent, "declarations_at_server": result.declarations_at_server,
        "export_real_keys": result.export_keys,
        "scores": [{"tier": r.tier, "truth": sorted(r.truth), "warned": sorted(r.warned),
                    "precision": r.precision, "recall": r.recall} for r in scores(result)],
        "seconds": result.total_seconds,
    }
    path = result.workdir / "result.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_report(result: DemoResult) -> Path:
    """The HTML report, in the first active language (one reader: the integrator)."""
    env = Environment(loader=PackageLoader("bluezone_demo", "templates"), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks are not part of its msgid
    # old-style callables: the template's _("... {field} ...", field=...) fills fields the way _() does in code
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=lambda msgid, **fields: text(_(msgid, **fields)),
        ngettext=lambda one, many, n, **fields: text(_n(one, many, n, **fields)), newstyle=False)
    html = env.get_template("report.html").render(
        language=active_languages()[0], text=text, columns=COLUMNS,
        result=result, rows=scores(result), pct=_pct, summary=summary_lines(result),
        day=dt.datetime.fromtimestamp(result.day_start, dt.timezone.utc).date().isoformat(),
        timeline=timeline_plot(result), graph=graph_plot(result),
        warned_rows=sorted((c, a) for c, a in result.alerts.items() if a),
    )
    path = result.workdir / "report.html"
    path.write_text(html, encoding="utf-8")
    result.report_path = path
    write_result_json(result)
    return path
