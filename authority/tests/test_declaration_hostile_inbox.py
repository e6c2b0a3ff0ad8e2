"""Hostile declarations in the authority's inbox (issue 17, items 5 and 12).

The declaration key is public, so anyone can seal anything to it and post it
without authentication. Through the real ``bluezone`` console script: a
60,000-deep nested JSON, wrong-typed answers, a plaintext that is not JSON,
a truncated ciphertext, a random and an empty file, odd JSON/JSONL files
and terminal escapes in answers sit next to a genuine urgent declaration.
``list``, ``triage``, ``csv`` and ``show`` must still show the genuine one
(urgent first), report every bad item with its reference and a one-line
reason, never print a traceback and never let a control character through.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bluezone.declarations.fixtures import TODAY, good_answers

from bluezone.declarations import KeyPair, make_declaration, seal
from bluezone.declarations.declaration import (MAGIC, PAD_BLOCK, Declaration, DeclarationFormatError,
                                               json_depth_exceeds)
from bluezone.declarations.ncovi_form import ncovi_form
from bluezone.declarations.sealing import seal_plaintext
from bluezone_authority.portal.testing import write_config
from bluezone.textsafe import FORMULA_TRIGGERS, csv_cell, safe_terminal_text
from bluezone.textsafe import is_unsafe_char as is_unsafe

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
FORM = ncovi_form()
ESCAPES = ("\x1b", "\u202e", "\x9b", "\u200b")


# A deployment whose first language is English: the tools' own output is in
# English and problem lines start with it (" / " then Vietnamese).
EN_FIRST = write_config(Path(tempfile.mkdtemp(prefix="bz-decl-")), languages=("en", "vi"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, timeout=120,
                          errors="strict", env={**os.environ, "BLUEZONE_CONFIG": str(EN_FIRST)})


def framed(body: bytes) -> bytes:
    """A plaintext in the declaration frame around any body (what an attacker seals)."""
    data = MAGIC + struct.pack(">I", len(body)) + body
    return data + bytes(-len(data) % PAD_BLOCK)


def raw_declaration(answers: dict, **top) -> bytes:
    """A plaintext with the given answers, bypassing the form's checks (as an attacker would)."""
    doc = {"schema": "ncovi/1", "language": "vi", "declared_on": TODAY.isoformat(), "answers": answers, **top}
    return framed(json.dumps(doc, ensure_ascii=True).encode())


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """An inbox: one genuine urgent and one genuine calm declaration among hostile items."""
    tmp = tmp_path_factory.mktemp("hostile")
    pair = KeyPair.generate()
    key = tmp / "authority.key"
    pair.write_private(key)
    pk = pair.private_key.public_key
    inbox = tmp / "inbox"
    inbox.mkdir()
    urgent = make_declaration(FORM, good_answers(symptom_difficulty_breathing=True), today=TODAY)
    calm = make_declaration(FORM, good_answers(symptom_cough=False), today=TODAY)
    genuine_sealed = seal(urgent, pk)
    files = {
        "genuine-urgent.sealed": genuine_sealed,
        "genuine-calm.sealed": seal(calm, pk),
        "deep.sealed": seal_plaintext(framed(b"[" * 60_000), pk),
        "deep-closed.sealed": seal_plaintext(framed(b"[" * 30_000 + b"]" * 30_000), pk),
        "wrong-bool.sealed": seal_plaintext(raw_declaration(good_answers(symptom_cough="yes")), pk),
        "wrong-list.sealed": seal_plaintext(raw_declaration(good_answers(provinces_visited=5)), pk),
        "wrong-object.sealed": seal_plaintext(raw_declaration(good_answers(full_name={"a": [1]})), pk),
        "wrong-year.sealed": seal_plaintext(raw_declaration(good_answers(year_of_birth="1988")), pk),
        "wrong-answers.sealed": seal_plaintext(raw_declaration([]), pk),
        "huge-int.sealed": seal_plaintext(framed(b'{"answers": {"x": ' + b"9" * 5000 + b"}}"), pk),
        "nan.sealed": seal_plaintext(framed(b'{"schema":"ncovi/1","language":"vi","declared_on":"2026-01-01",'
                                            b'"answers":{"year_of_birth":NaN}}'), pk),
        "not-json.sealed": seal_plaintext(framed(b"this is not json at all"), pk),
        "no-frame.sealed": seal_plaintext(b"hello world, no magic header here", pk),
        "truncated.sealed": genuine_sealed[:-17],
        "random.sealed": os.urandom(5000),
        "empty.sealed": b"",
        "empty.json": b"",
        "deep.json": b"[" * 100_000,
        "huge-int.json": b"1" * 10_000,
        "not-utf8.jsonl": b"\xff\xfe\x00garbage\n",
    }
    # An answer full of terminal escapes, bidi overrides and a lone surrogate:
    # the types are right, so it opens, and must be shown neutralised.
    evil = good_answers(full_name="Lan\x1b[2J\x1b]8;;http://evil.example\x07\u202eevil\x9b31m\u200b",
                        address_street="\ud800=cmd", symptom_fever=True)
    files["escapes.sealed"] = seal_plaintext(raw_declaration(evil), pk)
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    good_line = json.dumps({"id": "fromjsonl", "receivedHour": 1_780_000_000,
                            "sealed": base64.b64encode(seal(calm, pk)).decode()})
    lines = [good_line, "[" * 50_000, json.dumps({"id": "badtime", "receivedHour": 1e308,
                                                  "sealed": base64.b64encode(seal(calm, pk)).decode()}),
             json.dumps({"id": ["list-id"], "sealed": 5}), "", json.dumps({"id": "inf", "received_at": "9999-12-31"})]
    (inbox / "bundle.jsonl").write_text("\n".join(lines) + "\n")
    os.mkfifo(inbox / "fifo.sealed")  # would block a reader forever
    bad = {"deep", "deep-closed", "wrong-bool", "wrong-list", "wrong-object", "wrong-year", "wrong-answers",
           "huge-int", "nan", "not-json", "no-frame", "truncated", "random", "empty", "empty.json", "deep.json",
           "huge-int.json", "not-utf8.jsonl:1", "bundle.jsonl:2", "bundle.jsonl:4", "inf", "fifo.sealed"}
    good = {"genuine-urgent", "genuine-calm", "escapes", "fromjsonl", "badtime"}
    return key, inbox, good, bad


def authority(key: Path, inbox: Path, *args: str) -> subprocess.CompletedProcess:
    return run("authority", "declarations", "--key", str(key), "--inbox", str(inbox), *args)


def assert_clean(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stderr, p.stderr
    for ch in ESCAPES:
        assert ch not in p.stdout and ch not in p.stderr, f"{ch!r} reached the terminal"


def assert_every_bad_item_reported(p: subprocess.CompletedProcess, bad: set[str]) -> None:
    reported = {line.split(": ", 1)[0].removeprefix("could not open ")
                for line in p.stderr.splitlines() if line.startswith("could not open ")}
    assert reported == bad
    for line in p.stderr.splitlines():
        if line.startswith("could not open "):
            assert len(line.split(": ", 1)[1]) > 3  # a reason, on one line
    assert f"{len(bad)} items could not be opened" in p.stderr


def test_list_shows_the_genuine_and_reports_every_bad_item(hostile):
    key, inbox, good, bad = hostile
    p = authority(key, inbox, "list")
    assert p.returncode == 1  # documented: 1 when some item failed
    assert_clean(p)
    assert_every_bad_item_reported(p, bad)
    assert f"{len(good)} declarations opened, {len(bad)} failed" in p.stdout
    listed = {line.split()[0] for line in p.stdout.splitlines()[1:-1]}
    assert listed == good
    assert "\\x1b[2J" in authority(key, inbox, "show", "escapes", "--lang", "en").stdout  # shown, but visibly
    rows = [json.loads(line) for line in authority(key, inbox, "list", "--json").stdout.splitlines()]
    assert {r["ref"] for r in rows} == good
    assert next(r for r in rows if r["ref"] == "badtime")["received_at"] == 0  # absurd time shown as unknown


def test_triage_puts_the_genuine_urgent_declaration_first(hostile):
    key, inbox, good, bad = hostile
    p = authority(key, inbox, "triage", "--lang", "en")
    assert p.returncode == 1
    assert_clean(p)
    assert_every_bad_item_reported(p, bad)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("[URGENT] genuine-urgent ") and "Difficulty breathing" in lines[0]
    assert {re.match(r"\[\w+ *\] (\S+) ", line).group(1) for line in lines} == good


def test_csv_exports_the_genuine_rows_neutralised(hostile, tmp_path):
    key, inbox, good, bad = hostile
    out = tmp_path / "export.csv"
    p = authority(key, inbox, "csv", str(out))
    assert p.returncode == 1 and f"{len(good)} declarations written" in p.stderr
    assert_clean(p)
    assert_every_bad_item_reported(p, bad)
    text = out.read_bytes().decode("utf-8")
    assert not any(is_unsafe(c) for c in text.replace("\r\n", ""))  # only the row ends
    rows = {r["ref"]: r for r in csv.DictReader(io.StringIO(text))}
    assert set(rows) == good and rows["genuine-urgent"]["priority"] == "urgent"
    assert rows["escapes"]["address_street"] == "'\\ud800=cmd"  # surrogate shown, formula guarded
    p = authority(key, inbox, "csv", "-")
    assert_clean(p)
    assert set(r["ref"] for r in csv.DictReader(io.StringIO(p.stdout))) == good


def test_show_opens_the_genuine_and_explains_a_bad_one(hostile):
    key, inbox, good, bad = hostile
    p = authority(key, inbox, "show", "genuine-urgent", "--lang", "en")
    assert p.returncode == 0, p.stderr
    assert_clean(p)
    assert "Difficulty breathing: yes" in p.stdout
    assert f"{len(bad)} other items in the inbox did not open" in p.stderr
    p = authority(key, inbox, "show", "escapes", "--lang", "en")
    assert p.returncode == 0
    assert_clean(p)
    assert "\\u202eevil\\x9b31m\\u200b" in p.stdout
    for ref, why in [("wrong-bool", "should be yes/no"), ("deep", "nests deeper"), ("truncated", "does not open"),
                     ("wrong-object", "not valid"), ("empty", "not a sealed declaration")]:
        p = authority(key, inbox, "show", ref)
        assert p.returncode == 2 and f"declaration {ref!r} did not open" in p.stderr and why in p.stderr, p.stderr
        assert_clean(p)


# --- the opened-plaintext parser -------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["schema", "language", "declared_on", "answers", "linkage", "tier", "exposure_date",
                         "verification_code", "symptom_cough", "x"]) | st.text(max_size=8), inner, max_size=6),
    max_leaves=25)


def _parse(plaintext: bytes) -> Declaration | None:
    try:
        return Declaration.from_plaintext(plaintext)
    except DeclarationFormatError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=9000))
def test_any_bytes_parse_or_raise_the_declared_error(data):
    _parse(data)
    _parse(MAGIC + struct.pack(">I", len(data)) + data)


@settings(max_examples=400, deadline=None)
@given(_json, st.integers(0, 40), st.sampled_from(["[", "{\"a\":"]))
def test_any_json_in_the_frame_parses_or_raises_the_declared_error(doc, depth, opener):
    text = json.dumps(doc, allow_nan=True)
    got = _parse(framed(text.encode()))
    if got is not None:  # what parses is fit for every display path
        assert isinstance(got.answers, dict) and isinstance(got.schema, str)
        json.dumps(got.to_dict())
    _parse(framed((opener * depth + text).encode()))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([f.id for f in FORM.fields]), _json, max_size=8))
def test_wrong_typed_answers_are_reported_never_raised(answers):
    from bluezone_authority.declarations import answer_type_problem

    got = _parse(raw_declaration({**good_answers(), **answers}))
    if got is None:
        return
    problem = answer_type_problem(got, FORM)
    if problem is None:  # then every display path copes with it
        from bluezone_authority.declarations import Opened, triage_row, write_csv
        from bluezone.declarations.console import summary_lines

        summary_lines(FORM, got.answers, "en")
        triage_row(Opened("x", 0, got))
        write_csv([Opened("x", 0, got)], io.StringIO(), FORM)


def test_depth_check_ignores_brackets_inside_strings():
    assert not json_depth_exceeds('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 3)
    assert not json_depth_exceeds('{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[["}', 3)
    assert json_depth_exceeds('{"a": [[[[1]]]]}', 3)


# --- the neutralisers -------------------------------------------------------------------------

_sneaky_prefix = st.text(alphabet=st.sampled_from(
    [" ", "\t", "\r", "\n", "\u00a0", "\u3000", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\x00"]),
    max_size=5)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_csv_cells_never_start_a_formula_or_carry_control_characters(text):
    cell = csv_cell(text)
    assert not any(is_unsafe(c) for c in cell)
    if not cell.startswith("'"):
        first = next((c for c in cell if not c.isspace()), "")
        assert first not in FORMULA_TRIGGERS
        assert cell[:1] not in ("\t", "\r", "\n")
    buf = io.StringIO()
    csv.writer(buf).writerow([cell])
    assert next(csv.reader(io.StringIO(buf.getvalue()))) == [cell]


@settings(max_examples=300, deadline=None)
@given(_sneaky_prefix, st.sampled_from(sorted(FORMULA_TRIGGERS)), st.text(max_size=20))
def test_formulas_behind_spaces_newlines_and_invisible_characters_are_guarded(prefix, trigger, rest):
    assert csv_cell(prefix + trigger + rest).startswith("'")


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_terminal_text_is_printable_and_encodable(text):
    out = safe_terminal_text(text)
    assert not any(is_unsafe(c) for c in out)
    out.encode("utf-8")  # no lone surrogate left to crash a print
    if text.isprintable():
        assert out == text  # ordinary text, Vietnamese included, is untouched


# --- the citizen's command quotes remote endpoints: neutralised too -----------------------------------


async def test_declare_prints_a_hostile_endpoints_answers_neutralised(tmp_path):
    """An external submitter's receipt and error message are remote text; the
    ``declare`` command prints them through the same neutraliser."""
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from bluezone.declarations.fixtures import write_deployment

    async def accept(request: web.Request) -> web.Response:
        return web.json_response({"maToKhai": "NC-1\x1b[2J\x1b]0;pwned\x07\u202e"}, status=201)

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "bad\x1b[31m red\u202e\x9b2J"}, status=400)

    app = web.Application()
    app.router.add_post("/ok", accept)
    app.router.add_post("/no", refuse)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        answers = tmp_path / "answers.json"
        answers.write_text(json.dumps(good_answers(), ensure_ascii=False), encoding="utf-8")
        for path, ok in (("/ok", True), ("/no", False)):
            folder = tmp_path / path.strip("/")
            folder.mkdir()
            cfg, _ = write_deployment(folder, declarations=(
                '[declarations]\nsubmitters = ["ncovi"]\n\n'
                f'[declarations.ncovi]\nurl = "{server.make_url(path)}"\nattempts = 1\n'))
            proc = await asyncio.create_subprocess_exec(
                BLUEZONE, "declare", "--config", str(cfg), "--from-json", str(answers), "--lang", "en",
                "--external", "--no-keep-copy", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await proc.communicate()
            text = out.decode() + err.decode()
            assert (proc.returncode == 0) is ok, text
            assert "Traceback" not in text
            for ch in ESCAPES:
                assert ch not in text
            assert ("NC-1\\x1b[2J" in text) if ok else ("bad\\x1b[31m red\\u202e\\x9b2J" in text)
    finally:
        await server.close()


# --- formulas behind a list separator ------------------------------------------------------------

#: Spreadsheets in locales whose decimal mark is a comma (Vietnamese among
#: them) split CSV on ';', and import dialogs often split on ',' and ';'
#: together: a formula after either separator starts a cell of its own.
SEPARATORS = (",", ";")


def _cells_a_spreadsheet_may_see(cell: str) -> list[str]:
    parts = [cell]
    for sep in SEPARATORS:
        parts = [p for part in parts for p in part.split(sep)]
    return parts


def _starts_a_formula(part: str) -> bool:
    first = next((c for c in part if not c.isspace()), "")
    return first in FORMULA_TRIGGERS


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "1", " ", ",", ";", "=", "+", "-", "@", "\uff1d", "\u00a0", "x"]), max_size=12)
       .map("".join))
def test_no_part_of_a_csv_cell_after_a_list_separator_starts_a_formula(text):
    cell = csv_cell(text)
    assert not [p for p in _cells_a_spreadsheet_may_see(cell) if _starts_a_formula(p)], cell


def test_csv_export_guards_formulas_after_a_separator_in_answers_and_lists(tmp_path):
    """Through the real CLI: a list answer (joined with ';') and a text answer
    with ';=' or ',+' inside cannot start a formula in a ';'-splitting spreadsheet."""
    pair = KeyPair.generate()
    key = tmp_path / "authority.key"
    pair.write_private(key)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    evil = good_answers(address_street='12 Lê Lợi;=HYPERLINK("http://evil.example/pay","Bấm")',
                        address_ward="Hội Thương, +cmd|' /C calc'!A0",
                        chronic_conditions=["hypertension", '=HYPERLINK("http://evil.example")'])
    (inbox / "sep.sealed").write_bytes(seal_plaintext(raw_declaration(evil), pair.private_key.public_key))
    out = tmp_path / "export.csv"
    p = run("authority", "declarations", "--key", str(key), "--inbox", str(inbox), "csv", str(out))
    assert p.returncode == 0, p.stderr
    [row] = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    for column in ("address_street", "address_ward", "chronic_conditions"):
        assert not [part for part in _cells_a_spreadsheet_may_see(row[column]) if _starts_a_formula(part)], row[column]
    assert row["address_street"].startswith("12 Lê Lợi;")  # the text is still there, readable
    assert "HYPERLINK" in row["chronic_conditions"] and row["chronic_conditions"].startswith("hypertension;")
