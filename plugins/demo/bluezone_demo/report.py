"""The demo's verdict: who was warned at which tier, against the ground truth.

F0's own phone is not counted as warned (a confirmed case's phone matches
the venue trace of its own visit; that is no exposure). Each row names its
missed true contacts; each warning is marked right or wrong with the
phone's weighted minutes and the simulator's minutes and closest distance.

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
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from bluezone.i18n import N_, _, _n, active_languages, text
from bluezone_ble.spread import spread_lines

from .day import VN_OFFSET
from .province import DemoResult

CLOSE_SECONDS = 15 * 60


@dataclass
class TierScore:
    """One row: its ground truth, who it warned, and who got a warning of
    this tier or a more severe one from any source (``covered``)."""

    tier: str
    truth: set[str]
    warned: set[str]
    covered: set[str] = field(default_factory=set)

    @property
    def true_positives(self) -> int:
        return len(self.truth & self.warned)

    @property
    def precision(self) -> float | None:
        return self.true_positives / len(self.warned) if self.warned else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / len(self.truth) if self.truth else None

    @property
    def missed(self) -> list[str]:
        """True contacts nobody warned at this tier or above, by name (a
        venue co-visitor warned F1 by Bluetooth was not missed)."""
        return sorted(self.truth - self.warned - self.covered)

    @property
    def wrong(self) -> list[str]:
        """Warned without being a true contact, by name."""
        return sorted(self.warned - self.truth)


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


def truths(result: DemoResult) -> dict[str, set[str]]:
    """Ground truth per tier (see the module docstring)."""
    f0 = result.patient_zero
    ble = close_contacts(result, f0) - {f0}
    venue = set(result.checked_in) - {f0}
    out = {"ble": ble, "venue": venue, "F1": ble | venue}
    if result.published_f1:
        out["F2"] = close_contacts(result, result.published_f1) - {f0, result.published_f1} - out["F1"]
    return out


def scores(result: DemoResult) -> list[TierScore]:
    truth = truths(result)
    f1 = warned(result, "F1")
    # a row's tier is its English label (the key in result.json), shown with text()
    rows = [
        TierScore(N_("F1 (Bluetooth)"), truth["ble"], warned(result, "F1", "ble"), f1),
        TierScore(N_("F1 (any: Bluetooth or venue)"), truth["F1"], f1, f1),
        # only warnings the venue trace itself produced: a co-visitor already
        # warned F1 by Bluetooth that day gets no second F1 (most severe wins)
        TierScore(N_("F1 by venue trace (co-visitors of F0)"), truth["venue"], warned(result, "F1", "venue"), f1),
    ]
    if "F2" in truth:
        rows.append(TierScore(N_("F2 (contacts of the F1 who published)"), truth["F2"], warned(result, "F2"),
                              warned(result, "F2") | f1))
    return rows


#: The tier table's column headings.
COLUMNS = (N_("tier"), N_("truth"), N_("warned"), N_("correct"), N_("precision"), N_("recall"))
#: The warned people's columns (summary and report).
PEOPLE_COLUMNS = (N_("citizen"), N_("tier"), N_("found"), N_("right?"), N_("weighted min (phone)"),
                  N_("min within 2 m (truth)"), N_("closest (truth)"), N_("exposure date"),
                  N_("message shown (vi)"))


def _pair(values: dict[tuple[str, str], float], a: str, b: str, default: float) -> float:
    return values.get((a, b), values.get((b, a), default))


@dataclass(frozen=True)
class WarnedPerson:
    """One warning a person got, judged against the simulator's ground truth.

    ``correct``: the person is in the ground truth of the warning's tier.
    ``weighted_minutes``: what the phone's own scoring gives the day's
    Bluetooth windows of that tier; ``truth_minutes`` and ``closest_m``: the
    simulator's minutes within 2 m of, and closest distance to, the source
    (F0 for F1, the publishing F1 for F2)."""

    citizen: str
    tier: str
    source: str
    date: str
    correct: bool
    weighted_minutes: float | None
    truth_minutes: float
    closest_m: float | None
    message_vi: str


def warned_people(result: DemoResult) -> list[WarnedPerson]:
    """Every warning, F0's own phone left out (its own visit is no exposure)."""
    truth = truths(result)
    out = []
    for citizen, alerts in sorted(result.alerts.items()):
        if citizen == result.patient_zero:
            continue
        for a in alerts:
            source = result.patient_zero if a["tier"] == "F1" else result.published_f1
            closest = _pair(result.closest_m, citizen, source or "", math.inf)
            out.append(WarnedPerson(
                citizen, a["tier"], a["source"], a["date"], citizen in truth.get(a["tier"], set()),
                result.weighted_minutes.get(citizen, {}).get(a["tier"]),
                round(_pair(result.close_seconds, citizen, source or "", 0.0) / 60, 1),
                None if math.isinf(closest) else round(closest, 2), a.get("message_vi", ""),
            ))
    return out


def self_alerts(result: DemoResult) -> int:
    """Alerts on F0's own phone: not warnings of anyone (shown apart)."""
    return len(result.alerts.get(result.patient_zero, []))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _kib(size: float) -> str:
    return format(size / 1024, ".1f")


def mark(correct: bool) -> str:
    """A warning's verdict: ✓ right or ✗ wrong (the sign first, in every language)."""
    return "✓ " + text(_("right")) if correct else "✗ " + text(_("wrong"))


def missed_line(row: TierScore) -> str:
    """The true contacts a row missed, by name."""
    return text(_("missed ({tier}): {names}", tier=text(row.tier), names=", ".join(row.missed)))


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
    for r in rows:
        if r.missed:
            lines.append("  " + missed_line(r))
    # one day is one draw: quote the spread over seeds and where the radio model's figures come from
    lines += ["  " + text(line) for line in spread_lines()]
    lines.append("  {:8} {:4} {:6} {:8} {:>9} {:>8} {:>8}".format(
        *(text(h) for h in (N_("warned"), N_("tier"), N_("found"), N_("right?"), N_("phone min"),
                            N_("≤2 m min"), N_("closest")))))
    for p in warned_people(result):
        phone = "—" if p.weighted_minutes is None else f"{p.weighted_minutes:.1f}"
        closest = "—" if p.closest_m is None else f"{p.closest_m:.1f} m"
        lines.append(f"  {p.citizen:8} {p.tier:4} {p.source:6} {mark(p.correct):8} "
                     f"{phone:>9} {p.truth_minutes:8.1f} {closest:>8}")
    no_alert = sum(1 for c, a in result.alerts.items() if not a and c != result.patient_zero)
    lines += ["  " + text(line) for line in (
        _n("F0's own phone: {n} alert about its own visits, not counted as a warning",
           "F0's own phone: {n} alerts about its own visits, not counted as warnings", self_alerts(result)),
        _("not warned: {n} of {total} citizens other than F0", n=no_alert, total=len(result.alerts) - 1),
        _("declarations: {sent} sealed and sent; the server holds {held} ciphertexts it cannot read",
          sent=result.declarations_sent, held=result.declarations_at_server),
        _("downloaded per phone: mean {mean} KiB (min {low}, max {high})",
          mean=_kib(statistics.mean(per_client)), low=_kib(min(per_client)), high=_kib(max(per_client))),
        _("time taken: {seconds} s", seconds=format(result.total_seconds, ".1f")),
    )]
    cb = result.cross_border
    if cb is not None:
        lines.append("  " + text(_("cross-border: {contact} (Gia Lai) met a case who reported in Đà Nẵng; "
                                   "{keys} keys came through the gateway; warned: {warned}", contact=cb.contact,
                                   keys=cb.keys_imported, warned=text(_("yes") if cb.warned else _("no")))))
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
    people += sorted(c for c, a in result.alerts.items() if a and c not in people)  # F0 is first, as the source
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
    ax.set_title(text(_("Exposure timeline")))
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="#c0392b", alpha=0.85,
                             label=text(_("same place as F0 ({f0})", f0=result.patient_zero)))]
              + ([Patch(color="#2e86c1", alpha=0.85,
                        label=text(_("same place as the F1 who published ({f1})", f1=result.published_f1)))]
                 if result.published_f1 else []), fontsize=7, loc="upper center")
    ax.invert_yaxis()
    data = _png(fig)
    plt.close(fig)
    return data


#: The weighted-minutes plot's categories: English label (the key in
#: result.json; shown translated) → (marker, colour). The legend is built
#: from the points drawn, so it shows exactly these.
CATEGORIES = {
    N_("true warning (Bluetooth)"): ("o", "#27ae60"),
    N_("Bluetooth warning of a venue co-visitor"): ("D", "#16a085"),
    N_("false warning (Bluetooth)"): ("X", "#c0392b"),
    N_("warned by the venue trace"): ("s", "#2980b9"),
    N_("missed true contact"): ("^", "#e67e22"),
    N_("not warned, not a contact"): (".", "#999999"),
}


def weighted_points(result: DemoResult) -> dict[str, dict[str, list[tuple[str, float, float]]]]:
    """tier → category → (citizen, truth minutes within 2 m of the source, the
    phone's weighted minutes for that tier). F0 and the source are left out; the
    F2 panel leaves out everyone who is F1 (truly or warned: most severe wins)."""
    truth = truths(result)
    out: dict[str, dict[str, list[tuple[str, float, float]]]] = {}
    for tier, source in (("F1", result.patient_zero), ("F2", result.published_f1)):
        if not source or tier not in truth:
            continue
        panel: dict[str, list[tuple[str, float, float]]] = {}
        for c in sorted(result.alerts):
            if c in (result.patient_zero, source):
                continue
            if tier == "F2" and (c in truth["F1"] or c in warned(result, "F1")):
                continue
            kinds = {a["source"] for a in result.alerts[c] if a["tier"] == tier}
            true = c in truth[tier]
            if "ble" in kinds:
                category = "false warning (Bluetooth)" if not true else (
                    "true warning (Bluetooth)" if tier == "F2" or c in truth["ble"]
                    else "Bluetooth warning of a venue co-visitor")  # right by the venue rule, not by distance
            elif kinds:
                category = "warned by the venue trace"
            else:
                category = "missed true contact" if true else "not warned, not a contact"
            point = (c, _pair(result.close_seconds, c, source, 0.0) / 60,
                     result.weighted_minutes.get(c, {}).get(tier, 0.0))
            panel.setdefault(category, []).append(point)
        out[tier] = panel
    return out


def weighted_figure(result: DemoResult):
    """Weighted minutes (the phone) against the ground truth's minutes within
    2 m, with the phone's threshold: points above the dashed line were warned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = weighted_points(result)
    fig, axes = plt.subplots(1, len(points), figsize=(5.6 * len(points), 5.4), squeeze=False)
    for ax, (tier, panel) in zip(axes[0], points.items(), strict=True):
        for category, (marker, colour) in CATEGORIES.items():
            rows = panel.get(category)
            if not rows:
                continue
            ax.scatter([r[1] for r in rows], [r[2] for r in rows], marker=marker, color=colour, s=46,
                       label=f"{text(category)} ({len(rows)})", zorder=3)
            for name, x, y in rows:
                ax.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.axhline(result.threshold_minutes, color="#333", ls="--", lw=1,
                   label=text(_("phone threshold: {minutes} weighted min", minutes=format(result.threshold_minutes, "g"))))
        ax.axvline(CLOSE_SECONDS / 60, color="#333", ls=":", lw=1,
                   label=text(_("truth: {minutes} min within 2 m", minutes=CLOSE_SECONDS // 60)))
        source = result.patient_zero if tier == "F1" else result.published_f1
        ax.set_xlabel(text(_("minutes within 2 m of {source} (simulator)", source=source)))
        ax.set_ylabel(text(_("weighted minutes (phone)")))
        ax.set_title(text(_("{tier}: contacts of {source}", tier=tier, source=source)))
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return fig


def weighted_plot(result: DemoResult) -> str:
    import matplotlib.pyplot as plt

    fig = weighted_figure(result)
    data = _png(fig)
    plt.close(fig)
    return data


def graph_legend_labels(result: DemoResult) -> list[str]:
    """The graph's legend entries (English labels, shown translated): only
    those of what the picture draws."""
    f0, pub = result.patient_zero, result.published_f1
    f1, f2 = warned(result, "F1") - {f0}, warned(result, "F2")
    truth0 = close_contacts(result, f0) | set(result.checked_in)
    truth1 = close_contacts(result, pub) if pub else set()
    venue = {n for n in f1 | f2 if any(a["source"] == "venue" for a in result.alerts.get(n, []))}
    checks = [
        ("F0", True), (N_("warned F1"), bool(f1)), (N_("warned F2"), bool(f2)),
        (N_("the F1 who published"), bool(pub) and pub in f1),
        (N_("warned by the venue trace"), bool(venue)),
        (N_("true contact of F0 (close, or checked in with F0)"), bool(f1 & truth0)),
        (N_("true close contact of the F1"), bool(pub in f1 and f2 & truth1)),
        (N_("warned without a true contact"), bool(f1 - truth0) or bool(pub in f1 and f2 - truth1)),
    ]
    return [label for label, shown in checks if shown]


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
        colour = "#e67e22" if x == 1.0 else "#f1c40f"
        ax.scatter([x], [y], s=60 if name not in (f0, pub) else 140, color=colour,
                   edgecolors="#2c3e50" if name == pub else ("#2980b9" if venue_only else "none"), linewidths=2)
        ax.text(x + 0.04, y, name + (" " + text(_("(venue)")) if venue_only else ""), fontsize=7, va="center")
    ax.set_xlim(-0.2, 2.6)
    ax.set_xticks([0, 1, 2], ["F0", "F1", "F2"])
    ax.set_yticks([])
    ax.set_title("F0 → F1 → F2")
    from matplotlib.lines import Line2D

    drawn = graph_legend_labels(result)
    legend = [h for h in (
        Line2D([], [], marker="o", ls="", color="#c0392b", markersize=10, label="F0"),
        Line2D([], [], marker="o", ls="", color="#e67e22", label="warned F1"),
        Line2D([], [], marker="o", ls="", color="#f1c40f", label="warned F2"),
        Line2D([], [], marker="o", ls="", color="#e67e22", markeredgecolor="#2c3e50", markeredgewidth=2,
               markersize=10, label="the F1 who published"),
        Line2D([], [], marker="o", ls="", color="#e67e22", markeredgecolor="#2980b9", markeredgewidth=2,
               label="warned by the venue trace"),
        Line2D([], [], color="#c0392b", lw=0.8, label="true contact of F0 (close, or checked in with F0)"),
        Line2D([], [], color="#2e86c1", lw=0.8, label="true close contact of the F1"),
        Line2D([], [], color="#999", ls="--", lw=0.8, label="warned without a true contact"),
    ) if h.get_label() in drawn]
    for h in legend:
        h.set_label(text(str(h.get_label())))
    ax.legend(handles=legend, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
        "downloads_sha256": result.downloads_sha256,
        "declarations_sent": result.declarations_sent, "declarations_at_server": result.declarations_at_server,
        "export_real_keys": result.export_keys,
        "scores": [{"tier": r.tier, "truth": sorted(r.truth), "warned": sorted(r.warned), "missed": r.missed,
                    "wrong": r.wrong, "precision": r.precision, "recall": r.recall} for r in scores(result)],
        "warned_people": [{k: v for k, v in vars(p).items() if k != "message_vi"} for p in warned_people(result)],
        "f0_own_alerts": self_alerts(result),
        "threshold_minutes": result.threshold_minutes,
        "weighted_minutes": result.weighted_minutes,
        "weighted_plot": {tier: {category: [p[0] for p in pts] for category, pts in panel.items()}
                          for tier, panel in weighted_points(result).items()},
        "seconds": result.total_seconds,
        "cross_border": vars(result.cross_border) if result.cross_border is not None else None,
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
        language=active_languages()[0], text=text, columns=COLUMNS, people_columns=PEOPLE_COLUMNS,
        mark=mark,
        result=result, rows=scores(result), pct=_pct, summary=summary_lines(result),
        day=dt.datetime.fromtimestamp(result.day_start, dt.timezone.utc).date().isoformat(),
        timeline=timeline_plot(result), graph=graph_plot(result), weighted=weighted_plot(result),
        people=warned_people(result), f0_own_alerts=self_alerts(result),
    )
    path = result.workdir / "report.html"
    path.write_text(html, encoding="utf-8")
    result.report_path = path
    write_result_json(result)
    return path
