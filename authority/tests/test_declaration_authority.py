"""The authority's offline tools: keygen, list, triage order, show, CSV export
(with spreadsheet-formula escaping), failures reported per file, purge."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bluezone.declarations.fixtures import TODAY, good_answers

from bluezone.declarations import KeyPair, Linkage, make_declaration, seal
from bluezone_authority.declarations import Opened, purge_sealed_files, triage, write_csv
from bluezone.declarations.ncovi_form import ncovi_form
from bluezone.models import Tier
from bluezone_authority.portal.testing import write_config

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
FORM = ncovi_form()
D = dt.timedelta(days=1)


# A deployment whose first language is English: the tools' own output is in English.
EN_FIRST = write_config(Path(tempfile.mkdtemp(prefix="bz-decl-")), languages=("en", "vi"))


def run(*args):
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BLUEZONE_CONFIG": str(EN_FIRST)})


def decl(link=None, **changes):
    return make_declaration(FORM, good_answers(**changes), today=TODAY, linkage=link)


def inbox(tmp_path, pair):
    folder = tmp_path / "inbox"
    folder.mkdir()
    pk = pair.private_key.public_key
    cases = {
        "calm": decl(symptom_cough=False, exposure_visited_affected_area=False),
        "f1-cough": decl(Linkage(Tier.F1, TODAY - 2 * D, "12345678")),
        "breathless": decl(symptom_cough=False, symptom_difficulty_breathing=True),
        "f2-none": decl(Linkage(Tier.F2, TODAY - D), symptom_cough=False),
    }
    for ref, d in cases.items():
        (folder / f"{ref}.sealed").write_bytes(seal(d, pk))
    bundle = {"declarations": [{"id": "fromjson", "receivedHour": 1_780_000_000,
                                "sealed": base64.b64encode(seal(decl(address_street="=HYPERLINK(1)"), pk)).decode()}]}
    (folder / "bundle.json").write_text(json.dumps(bundle))
    (folder / "other.sealed").write_bytes(seal(decl(), KeyPair.generate().private_key.public_key))
    (folder / "broken.json").write_text("{nope")
    return folder


def test_keygen_writes_a_private_key_and_prints_the_config_line(tmp_path):
    p = run("authority", "declarations", "keygen", str(tmp_path / "a.key"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith('declaration_public_key = "') and len(p.stdout.strip()) == len('declaration_public_key = ""') + 44
    assert stat.S_IMODE(os.stat(tmp_path / "a.key").st_mode) == 0o600
    again = run("authority", "declarations", "keygen", str(tmp_path / "a.key"))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_list_triage_show_and_failures(tmp_path):
    pair = KeyPair.generate()
    key = tmp_path / "a.key"
    pair.write_private(key)
    folder = inbox(tmp_path, pair)
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder))
    assert p.returncode == 1  # some did not open: say so in the exit code too
    assert "5 declarations opened, 2 failed" in p.stdout
    assert "could not open other: does not open with this key" in p.stderr
    assert "could not open broken.json: not JSON" in p.stderr
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder / "f1-cough.sealed"), "triage", "--lang", "en")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"[HIGH  ] f1-cough  tier=F1 exposed={(TODAY - 2 * D).isoformat()} code=12345678  symptoms: Cough"
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder), "show", "breathless", "--lang", "vi")
    assert "Khó thở: có" in p.stdout and "Họ và tên: Nguyễn Thị Lan" in p.stdout
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder), "list", "--json")
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert {r["ref"] for r in rows} == {"calm", "f1-cough", "breathless", "f2-none", "fromjson"}
    assert next(r for r in rows if r["ref"] == "fromjson")["received_at"] == 1_780_000_000


def test_missing_key_or_inbox_is_a_clear_error(tmp_path):
    p = run("authority", "declarations", "--inbox", str(tmp_path))
    assert p.returncode == 2 and "--key FILE" in p.stderr
    (tmp_path / "k").write_text("garbage")
    p = run("authority", "declarations", "--key", str(tmp_path / "k"), "--inbox", str(tmp_path / "none"))
    assert p.returncode == 2 and "Error" in p.stderr.split(":")[0]


def test_triage_order():
    opened = [Opened(ref, 0, d) for ref, d in {
        "calm": decl(symptom_cough=False, exposure_visited_affected_area=False),
        "sym-only": decl(),
        "f1-old": decl(Linkage(Tier.F1, TODAY - 5 * D), symptom_cough=False),
        "f1-new-cough": decl(Linkage(Tier.F1, TODAY - D)),
        "f1-old-cough": decl(Linkage(Tier.F1, TODAY - 4 * D)),
        "haemorrhage": decl(symptom_cough=False, symptom_skin_haemorrhage=True),
        "contact-cough": decl(exposure_close_contact_case=True),
    }.items()]
    order = [r.ref for r in triage(opened)]
    assert order == ["haemorrhage", "f1-new-cough", "f1-old-cough", "contact-cough", "f1-old", "sym-only", "calm"]
    assert [r.priority_name for r in triage(opened)][:2] == ["urgent", "high"]


def test_csv_export_has_every_field_and_escapes_formulas(tmp_path):
    pair = KeyPair.generate()
    key = tmp_path / "a.key"
    pair.write_private(key)
    folder = inbox(tmp_path, pair)
    out = tmp_path / "export.csv"
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder), "csv", str(out))
    assert p.returncode == 1 and "5 declarations written" in p.stderr  # 2 failures reported
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 5
    assert set(f.id for f in FORM.fields) <= set(rows[0])
    by_ref = {r["ref"]: r for r in rows}
    assert by_ref["fromjson"]["address_street"] == "'=HYPERLINK(1)"
    assert by_ref["f1-cough"]["tier"] == "F1" and by_ref["f1-cough"]["verification_code"] == "12345678"
    assert by_ref["f1-cough"]["provinces_visited"] == "64;79" and by_ref["calm"]["symptom_cough"] == "no"
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(folder), "csv", str(out))
    assert p.returncode == 2 and "refusing to overwrite" in p.stderr


def test_write_csv_directly_counts_rows():
    buf = io.StringIO()
    assert write_csv([Opened("a", 0, decl(address_street="+cmd|' /C calc'!A0"))], buf, FORM) == 1
    assert "'+cmd" in buf.getvalue()


def test_purge_deletes_only_old_downloads(tmp_path):
    old, new = tmp_path / "old.sealed", tmp_path / "new.sealed"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    (tmp_path / "notes.txt").write_text("keep")
    past = time.time() - 20 * 86_400
    os.utime(old, (past, past))
    assert purge_sealed_files(tmp_path, 14) == [old]
    assert new.exists() and (tmp_path / "notes.txt").exists() and not old.exists()
    os.utime(new, (past, past))
    p = run("authority", "declarations", "purge", "--days", "14", str(tmp_path))
    assert p.returncode == 0 and "1 file deleted" in p.stdout and not new.exists()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["id", "sealed", "received_at", "receivedHour", "x"]), inner, max_size=4),
                     max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_fuzzed_inbox_records_are_read_or_reported(tmp_path_factory, record):
    from bluezone_authority.declarations import Failure, SealedItem, _records, read_sources

    folder = tmp_path_factory.mktemp("fz")
    (folder / "r.json").write_text(json.dumps(record))
    items, failures = read_sources([folder])
    assert all(isinstance(i, SealedItem) for i in items) and all(isinstance(f, Failure) for f in failures)
    assert len(items) + len(failures) == len(_records(record))  # every record accounted for
