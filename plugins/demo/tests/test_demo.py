"""A small province day end to end through the real console script.

``bluezone demo`` runs the real server as a process, the radio simulator,
QR check-in from the decoded poster, uploads with codes, exports, syncs,
F2, venue tracing and declarations; its ``result.json`` is checked against
the simulator's ground truth and the day's plan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
LOCALE = Path(__file__).resolve().parents[1] / "bluezone_demo" / "locale"


def vi(msgid: str, **fields: str) -> str:
    """A text of the report as the default deployment (Vietnamese first)
    shows it, read straight from the demo's compiled catalogue."""
    import gettext

    return gettext.translation("bluezone_demo", str(LOCALE), ["vi"]).gettext(msgid).format(**fields)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([BLUEZONE, "demo", "--citizens", "12", "--seed", "3", "--workdir", str(work),
                           "--declarations", "2"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc.stdout, json.loads((work / "result.json").read_text())


def met(result: dict, a: str, b: str) -> bool:
    return any(a in g["members"] and b in g["members"] for g in result["groups"])


def tiers(result: dict, citizen: str) -> set[str]:
    return {a["tier"] for a in result["alerts"][citizen]}


def test_every_office_co_visitor_of_f0_is_warned_f1(demo):
    _, _, r = demo
    f0 = r["patient_zero"]
    assert f0 in r["checked_in"]
    for c in r["checked_in"]:
        if c != f0:
            assert "F1" in tiers(r, c), c  # by Bluetooth or, failing that, by the venue trace


def test_only_people_who_met_the_source_are_warned(demo):
    _, _, r = demo
    f0, f1 = r["patient_zero"], r["published_f1"]
    for c, alerts in r["alerts"].items():
        if c == f0:
            continue
        if "F1" in tiers(r, c):
            assert met(r, c, f0), f"{c} warned F1 without sharing a place with F0"
        if "F2" in tiers(r, c):
            assert f1 and met(r, c, f1), f"{c} warned F2 without sharing a place with the F1"
            assert "F1" not in tiers(r, c)  # the most severe tier wins


def test_bluetooth_warnings_find_true_close_contacts(demo):
    """Read from the raw fields, not the report's own arithmetic: the
    simulator's close pairs (ground truth) against the alerts the phones hold."""
    _, _, r = demo
    f0 = r["patient_zero"]
    truth = {b if a == f0 else a for a, b in r["close_pairs"] if f0 in (a, b)}
    warned_by_ble = {c for c, alerts in r["alerts"].items()
                     if c != f0 and any(a["tier"] == "F1" and a["source"] == "ble" for a in alerts)}
    # Bluetooth found true close contacts (the default estimator trades some recall for precision,
    # so not necessarily all of them: docs/simulator.md)
    assert truth & warned_by_ble, (truth, warned_by_ble)
    ble = next(s for s in r["scores"] if s["tier"] == "F1 (Bluetooth)")
    assert set(ble["truth"]) == truth and set(ble["warned"]) == warned_by_ble
    # the report's figures are the raw sets' own, not its own arithmetic
    assert ble["recall"] == pytest.approx(len(truth & warned_by_ble) / len(truth))


def test_f1_who_published_is_an_f1_and_warns_others(demo):
    _, _, r = demo
    assert r["published_f1"] and "F1" in tiers(r, r["published_f1"])
    assert r["export_real_keys"] == [1, 1]  # one ended day key each (today's is embargoed)


def test_every_phone_downloads_the_same_bytes(demo):
    """What a phone downloads does not depend on its person (privacy): the
    same files, byte for byte (a digest of feed, name and content, in order)."""
    _, _, r = demo
    digests = r["downloads_sha256"]
    assert set(digests) == set(r["bytes_downloaded"]) and len(set(digests.values())) == 1
    sizes = set(r["bytes_downloaded"].values())
    assert len(sizes) == 1 and sizes.pop() > 25_000  # a padded export of ~1000 keys and the venue trace


def test_declarations_reach_the_server_sealed(demo):
    """The server's own database holds the two declarations as sealed boxes:
    a sealed box's size (48 + whole 4 KiB blocks) and no plaintext field."""
    import sqlite3

    from bluezone import load_private_key
    from bluezone.declarations.declaration import PAD_BLOCK
    from bluezone.declarations.sealing import SEAL_OVERHEAD, open_sealed

    work, _, r = demo
    assert r["declarations_sent"] == 2 and r["declarations_at_server"] == 2
    db = sqlite3.connect(work / "authority" / "server.db")
    try:
        stored = [bytes(row[0]) for row in db.execute("SELECT sealed FROM declarations")]
    finally:
        db.close()
    assert len(stored) == 2
    for sealed in stored:
        assert (len(sealed) - SEAL_OVERHEAD) % PAD_BLOCK == 0 and len(sealed) > SEAL_OVERHEAD
        # no field in clear (names long enough that random ciphertext does not hold them by chance;
        # a 2-byte '{"' does, in about half of such runs)
        assert b"full_name" not in sealed and b"year_of_birth" not in sealed
        # and it is a real sealed box to the authority's key: the offline key opens it
        declaration = open_sealed(sealed, load_private_key(work / "authority" / "declarations.key"))
        assert declaration.answers["full_name"]


def test_summary_and_report(demo):
    work, stdout, r = demo
    # the summary speaks the first deployment language (the default deployment's: vi)
    assert "độ chính xác" in stdout and "độ phủ" in stdout and "Báo cáo HTML: file://" in stdout
    html = (work / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # timeline, weighted minutes, graph
    assert r["patient_zero"] in html and "F0 → F1 → F2" in html
    from bluezone_qr_checkin import qrimage

    assert qrimage.decode_image(work / "office" / "poster.png")[0].startswith("https://")


# --- the report is honest: checked against the simulator's ground truth ------------------


def _truth(r: dict) -> dict[str, set[str]]:
    f0, pub = r["patient_zero"], r["published_f1"]
    close = {tuple(p) for p in r["close_pairs"]}

    def contacts(x):
        return {b if a == x else a for a, b in close if x in (a, b)} - {x}

    ble, venue = contacts(f0), set(r["checked_in"]) - {f0}
    out = {"ble": ble, "venue": venue, "F1": ble | venue}
    if pub:
        out["F2"] = contacts(pub) - {f0, pub} - out["F1"]
    return out


def test_f0_is_not_listed_as_warned(demo):
    work, stdout, r = demo
    f0 = r["patient_zero"]
    assert all(f0 not in s["warned"] for s in r["scores"])
    assert f0 not in {p["citizen"] for p in r["warned_people"]}
    assert r["f0_own_alerts"] == len(r["alerts"][f0])
    html = (work / "report.html").read_text()
    table = html.split(vi("Who was warned") + "</h2>")[1].split("</table>")[0]
    assert f"<td>{f0}</td>" not in table


def test_venue_row_counts_only_warnings_from_the_venue_trace(demo):
    _, _, r = demo
    row = next(s for s in r["scores"] if s["tier"].startswith("F1 by venue trace"))
    from_venue = {c for c, alerts in r["alerts"].items() if c != r["patient_zero"]
                  and any(a["tier"] == "F1" and a["source"] == "venue" for a in alerts)}
    assert set(row["warned"]) == from_venue
    assert set(row["truth"]) == set(r["checked_in"]) - {r["patient_zero"]}


def test_every_row_names_its_missed_true_contacts(demo):
    _, stdout, r = demo
    truth = _truth(r)
    keys = {"F1 (Bluetooth)": "ble", "F1 (any: Bluetooth or venue)": "F1",
            "F1 by venue trace (co-visitors of F0)": "venue", "F2 (contacts of the F1 who published)": "F2"}
    warned_at = {tier: {c for c, alerts in r["alerts"].items() if any(a["tier"] == tier for a in alerts)}
                 for tier in ("F1", "F2")}
    for s in r["scores"]:
        assert set(s["truth"]) == truth[keys[s["tier"]]], s["tier"]
        # nobody warned at the row's tier or above: a co-visitor warned F1 by Bluetooth was not missed
        covered = warned_at["F1"] | (warned_at["F2"] if s["tier"].startswith("F2") else set())
        assert s["missed"] == sorted(set(s["truth"]) - covered)
        assert s["wrong"] == sorted(set(s["warned"]) - set(s["truth"]))
        if s["missed"]:
            assert vi("missed ({tier}): {names}", tier=vi(s["tier"]), names=", ".join(s["missed"])) in stdout


def test_each_warning_is_marked_against_the_ground_truth(demo):
    _, stdout, r = demo
    truth = _truth(r)
    people = r["warned_people"]
    expected = sorted((c, a["tier"], a["source"]) for c, alerts in r["alerts"].items()
                      if c != r["patient_zero"] for a in alerts)
    assert sorted((p["citizen"], p["tier"], p["source"]) for p in people) == expected
    for p in people:
        assert p["correct"] == (p["citizen"] in truth[p["tier"]]), p
        source = r["patient_zero"] if p["tier"] == "F1" else r["published_f1"]
        close = sorted([p["citizen"], source]) in r["close_pairs"]
        assert (p["truth_minutes"] >= 15) == close or abs(p["truth_minutes"] - 15) < 0.1  # rounded to 0.1
        if p["source"] == "ble":  # the phone warned because its own weighted minutes reached the threshold
            assert p["weighted_minutes"] >= r["threshold_minutes"]
        assert p["closest_m"] is None or p["closest_m"] >= 0
        mark = "✓ right" if p["correct"] else "✗ wrong"
        assert any(line.split()[:4] == [p["citizen"], p["tier"], p["source"], mark.split()[0]]
                   for line in stdout.splitlines())


def test_weighted_minutes_plot_points_and_legend_match_the_truth(demo):
    _, _, r = demo
    truth = _truth(r)
    f1_panel = r["weighted_plot"]["F1"]
    warned_ble = {c for c, alerts in r["alerts"].items() if any(a["tier"] == "F1" and a["source"] == "ble"
                                                                 for a in alerts)} - {r["patient_zero"]}
    assert set(f1_panel.get("true warning (Bluetooth)", [])) == warned_ble & truth["ble"]
    assert set(f1_panel.get("Bluetooth warning of a venue co-visitor", [])) == (warned_ble & truth["F1"]) - truth["ble"]
    assert set(f1_panel.get("false warning (Bluetooth)", [])) == warned_ble - truth["F1"]
    warned_any = {c for c, alerts in r["alerts"].items() if any(a["tier"] == "F1" for a in alerts)}
    assert set(f1_panel.get("missed true contact", [])) == truth["F1"] - warned_any
    plotted = {c for names in f1_panel.values() for c in names}
    assert plotted == set(r["alerts"]) - {r["patient_zero"]}
    # every phone below the threshold was not warned by Bluetooth, every one above was
    for c in plotted:
        assert (r["weighted_minutes"][c].get("F1", 0.0) >= r["threshold_minutes"]) == (c in warned_ble), c


def test_plot_legend_shows_what_is_drawn():
    """Built on a made-up day (no simulator): the legend lists exactly the
    categories with points, and each entry has its points' marker and colour."""
    import math

    from matplotlib.colors import to_hex

    from bluezone_demo.day import make_plan
    from bluezone_demo.province import DemoResult
    from bluezone_demo.report import CATEGORIES, weighted_figure

    plan = make_plan(8, 1)
    f0 = plan.patient_zero
    others = [c for c in plan.citizens if c != f0]
    alerts = {c: [] for c in plan.citizens}
    alerts[others[0]] = [{"tier": "F1", "source": "ble", "date": "2024-05-03"}]   # true
    alerts[others[1]] = [{"tier": "F1", "source": "ble", "date": "2024-05-03"}]   # false
    close = {tuple(sorted((f0, others[0]))): 1200.0, tuple(sorted((f0, others[2]))): 1000.0}  # others[2] missed
    result = DemoResult(Path("."), plan, 0, f0, None, close, alerts, {}, [], 0, 0, [],
                        closest_m={k: 1.0 for k in close},
                        weighted_minutes={others[0]: {"F1": 20.0}, others[1]: {"F1": 16.0},
                                          others[2]: {"F1": 4.0}})
    from bluezone.i18n import use_languages

    with use_languages("en"):  # an English deployment's labels (result.json keys are these too)
        fig = weighted_figure(result)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["true warning (Bluetooth) (1)", "false warning (Bluetooth) (1)", "missed true contact (1)",
                      f"not warned, not a contact ({len(others) - 3})", "phone threshold: 15 weighted min",
                      "truth: 15 min within 2 m"]
    for collection in ax.collections:
        category = collection.get_label().rsplit(" (", 1)[0]
        assert to_hex(collection.get_facecolor()[0]) == CATEGORIES[category][1]
    assert not math.isnan(ax.get_ylim()[1])
    # the graph's legend: F0, the F1 warnings, one true and one false edge; no F2, venue or publishing F1
    from bluezone_demo.report import graph_legend_labels

    assert graph_legend_labels(result) == ["F0", "warned F1", "true contact of F0 (close, or checked in with F0)",
                                           "warned without a true contact"]


def test_a_cross_border_contact_is_warned_through_the_gateway(demo):
    """The second province: a Đà Nẵng case's key went Đà Nẵng → gateway → Gia Lai, and the Gia Lai
    contact (whose phone knows only Gia Lai's server, and whom nobody in Gia Lai warned) got an F1
    warning that says only "another province"."""
    _, stdout, result = demo
    cb = result["cross_border"]
    assert cb["warned"] is True and cb["keys_imported"] >= 1
    assert "một tỉnh, thành phố khác" in cb["message_vi"] and "another province" in cb["message_en"]
    assert "Đà Nẵng" not in cb["message_vi"] and cb["contact"] in result["alerts"]
    assert not result["alerts"][cb["contact"]]  # not warned by anything in Gia Lai's own day
    assert vi("cross-border: {contact} (Gia Lai) met a case who reported in Đà Nẵng; {keys} keys came through "
              "the gateway; warned: {warned}", contact=cb["contact"], keys=str(cb["keys_imported"]),
              warned="") in stdout
