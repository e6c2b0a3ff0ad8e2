"""The check-in plugin's texts all go through its message catalogue.

The Vietnamese catalogue is complete and compiled; and run in the ``qps``
pseudo-locale, the real commands -- a venue owner's, the kiosk's, a
citizen's check-in, checkout and visits, their refusals of bad QR codes and
bad times, every help page -- and, on a real server on loopback, the
venue-trace portal pages and the venue-trace API's refusals show no English
word outside the pseudo-locale's brackets, apart from what the test itself
typed (names, paths, option names, identifiers)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import nacl.public
import pytest

from bluezone import i18n
from bluezone.i18n import ENV_LOCALE_DIRS
from bluezone.i18n.catalogues import Distribution, problems
from bluezone.i18n.pseudo import PSEUDO_LANGUAGE, pseudo, untranslated
from bluezone.testing import catalogue_missing_from_wheel, pseudo_locale

PACKAGE = Path(__file__).resolve().parents[1] / "bluezone_qr_checkin"
DIST = Distribution(PACKAGE, "bluezone_qr_checkin", PACKAGE / "locale")
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))

NAME, ADDRESS = "Quán Phố Núi", "Pleiku"
#: What a help page shows that is no text: option names, metavars, the command path.
NOT_TEXT = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]*|\b[A-Z][A-Z_]+\b|\[OPTIONS\]|\[ARGS\]|\.\.\.")


def test_every_qr_checkin_text_is_in_the_vietnamese_catalogue_and_compiled():
    """A _() added without its translation, a {field} lost in translation or
    a stale .mo fails here, naming the text (fix: make messages, translate)."""
    assert problems(DIST) == []


def test_the_catalogue_ships_in_the_distribution(tmp_path):
    """The wheel carries the template, the translations and the compiled
    catalogue: an installed (not editable) copy speaks Vietnamese."""
    assert catalogue_missing_from_wheel(PACKAGE.parent, "bluezone_qr_checkin/locale", "bluezone_qr_checkin", tmp_path) == []
    # and the Alembic revisions of its server tables (package data: the folder is not a package)
    import zipfile

    [wheel] = tmp_path.glob("*.whl")
    revisions = {f"bluezone_qr_checkin/server_migrations/{p.name}" for p in (PACKAGE / "server_migrations").glob("*.py")}
    assert revisions and sorted(revisions - set(zipfile.ZipFile(wheel).namelist())) == []


@pytest.fixture(scope="module")
def qps(tmp_path_factory) -> dict[str, str]:
    """A ``qps`` deployment (with venue keys) and the environment that runs commands in it."""
    folder = tmp_path_factory.mktemp("qps")
    localedir = pseudo_locale(folder / "locale")
    key = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()
    kiosk = base64.b64encode(bytes(nacl.public.PrivateKey.generate().public_key)).decode()  # its own, kept offline
    deployment = folder / "deployment.toml"
    deployment.write_text(f'[deployment]\nname = "Gia Lai"\nregion = "452"\nlanguages = ["{PSEUDO_LANGUAGE}"]\n\n'
                          f'[authority]\nurl = "https://a.example"\n\n[qr_checkin]\nurl_base = "https://qr.gialai.example"\nauthority_public_key = "{key}"\n'
                          f'kiosk_public_key = "{kiosk}"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("BLUEZONE_STORE",)}
    env.update({ENV_LOCALE_DIRS: str(localedir), "BLUEZONE_CONFIG": str(deployment)})
    return env


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120)


def shown(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def test_the_check_in_commands_speak_only_through_the_catalogue(qps, tmp_path):
    phone, out = str(tmp_path / "phone.db"), tmp_path / "venue"
    assert run(qps, "init", "--store", phone, "--consent", "all").returncode == 0
    allowed = [str(tmp_path), NAME, ADDRESS, "tracing-code.bin / tracing-code.pdf"]
    screens: list[tuple[str, subprocess.CompletedProcess]] = []

    def step(expect: int, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        proc = run(qps, *args, stdin=stdin)
        assert proc.returncode == expect, (args, proc.stdout, proc.stderr)
        screens.append((" ".join(args), proc))
        return proc

    created = step(0, "venue", "create", "--name", NAME, "--address", ADDRESS, "--out", str(out))
    url = (out / "entry-url.txt").read_text().strip()
    allowed.append(url)
    assert url in created.stdout
    step(2, "venue", "create", "--name", NAME, "--address", ADDRESS, "--default-stay", "soon", "--out", str(out))
    step(2, "venue", "create", "--name", NAME, "--address", ADDRESS, "--type", "beach", "--out", str(out))
    org = tmp_path / "org.json"
    passphrase = step(0, "venue", "organisation-init", "--out", str(org)).stdout.strip().splitlines()[-1]
    allowed.append(passphrase)
    step(2, "venue", "organisation-init", "--out", str(org))  # refuses to overwrite
    step(0, "venue", "log", "--log", str(tmp_path / "kiosk.db"), "--name", "Nguyễn Văn An", "--phone", "0912 345 678")
    step(2, "venue", "log", "--log", str(tmp_path / "kiosk.db"), "--name", "", "--phone", "12")
    step(0, "venue", "log", "--log", str(tmp_path / "kiosk.db"), stdin="Trần Thị Bình\n0901234567\n")
    step(0, "venue", "trace", "--tracing-code", str(out / "tracing-code.bin"), "--from", "@1796029200",
         "--to", "@1796036400", "--token", "t", "--output", str(tmp_path / "upload.json"))
    step(2, "venue", "trace", "--tracing-code", str(out / "tracing-code.bin"), "--from", "2026-11-30T10:00",
         "--to", "2026-11-30T09:00", "--token", "t")
    step(2, "venue", "trace", "--from", "@0", "--to", "@60", "--token", "t")  # no tracing code given

    # a citizen, in the language chosen at init (the deployment's first: qps)
    empty = step(0, "visits", "--store", phone)
    assert empty.stdout.strip().startswith("⟦")
    checked_in = step(0, "checkin", url, "--yes", "--store", phone)
    step(0, "checkin", url, "--store", phone, stdin="n\n")  # asked, and cancelled
    step(0, "checkin", url, "--yes", "--store", phone)  # ends the first visit
    listed = step(0, "visits", "--store", phone)
    visit_ids = re.findall(r"\bv[0-9a-f]{24}\b", checked_in.stdout + listed.stdout)
    assert visit_ids, listed.stdout
    allowed += visit_ids
    step(2, "visits", "--store", phone, "edit", visit_ids[0], "--departure", "@1")  # before its arrival
    step(2, "visits", "--store", phone, "edit", "vnope", "--arrival", "2026-11-30T09:00")
    step(2, "visits", "--store", phone, "edit", visit_ids[0], "--arrival", "yesterday")
    step(0, "checkout", "--store", phone)
    step(2, "checkout", "--store", phone)  # not checked in anywhere
    allowed.append("vnope")

    # bad QR codes: another app's, plain text, a damaged payload, an old version, a missing picture
    for bad in ("https://zalo.me/g/abcdef", "hello", url.split("#")[0] + "#@@@@", url.replace("?v=3", "?v=2"),
                str(tmp_path / "poster-photo.png")):
        refused = step(2, "checkin", bad, "--yes", "--store", phone)
        assert refused.stderr.count("\n") == 1
        allowed.append(bad)

    left = {name: (untranslated(shown(proc), allowed), shown(proc)) for name, proc in screens}
    assert {name: found for name, found in left.items() if found[0]} == {}


HELP_PAGES = [["venue"], ["venue", "create"], ["venue", "organisation-init"], ["venue", "trace"], ["venue", "log"],
              ["venue", "paper-log"], ["checkin"], ["checkout"], ["visits"], ["visits", "edit"]]


@pytest.mark.parametrize("command", HELP_PAGES, ids=" ".join)
def test_every_help_page_speaks_through_the_catalogue(qps, command):
    proc = run(qps, *command, "--help")
    assert proc.returncode == 0, proc.stderr
    page = NOT_TEXT.sub(" ", proc.stdout)
    default_store = str(Path("~/.local/share/bluezone/device.db").expanduser())
    subcommands = ["create", "organisation-init", "trace", "log", "paper-log", "edit"]
    allowed = ["bluezone", *command, *subcommands, "other", "2h", default_store]
    assert untranslated(page, allowed) == [], proc.stdout


# --- the server and the portal, on loopback -------------------------------------------------


@pytest.fixture
async def qps_server(tmp_path, monkeypatch):
    """A real authority server with this plugin, its deployment in ``qps`` only."""
    from bluezone_authority.portal.testing import start

    monkeypatch.setenv(ENV_LOCALE_DIRS, str(pseudo_locale(tmp_path / "locale")))
    before = i18n._default_languages
    running = await start(tmp_path, users=(("tracer", "venue-tracer"),), languages=(PSEUDO_LANGUAGE,))
    yield running
    await running.http.close()
    i18n.set_default_languages(before)
    i18n._translations.clear()


def page_text(page: str) -> str:
    """What a person reads on a page: the text between the tags, and what a screen reader reads out."""
    import html

    attributes = " ".join(re.findall(r'(?:aria-label|title|alt|placeholder)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page.split("<body", 1)[-1]) + " " + attributes)


async def test_the_venue_trace_pages_and_refusals_speak_only_through_the_catalogue(qps_server):
    r = qps_server
    pages: dict[str, str] = {}
    allowed = ["Tracer", "Asia/Ho_Chi_Minh", "YYYY-MM-DDTHH:MM", "TRACING-CODE-FILE", "bluezone venue trace",
               "--tracing-code", "--from", "--to", "--token", "2026-05-27T08:00", "2026-05-27T17:30", "Quán Phố Núi"]
    async with r.client() as c:
        await c.login("tracer")
        pages["dashboard (menu, counter, role)"] = (await c.get("/portal/")).text
        pages["venue-trace form"] = (await c.get("/portal/venue-trace")).text
        issued = await c.submit("/portal/venue-trace", "/portal/venue-trace",
                                {"venue": "Quán Phố Núi", "from": "2026-05-27T08:00", "to": "2026-05-27T17:30"})
        allowed.append(issued.by_id("issued-token"))
        pages["token issued"] = issued.text
        refused = await c.submit("/portal/venue-trace", "/portal/venue-trace",
                                 {"from": "2026-05-27T18:00", "to": "2026-05-27T08:00"})
        assert refused.status == 400
        pages["bad times"] = refused.text
    left = {name: untranslated(page_text(page), allowed) for name, page in pages.items()}
    assert {name: found for name, found in left.items() if found} == {}
    assert all(f'<html lang="{PSEUDO_LANGUAGE}">' in page for page in pages.values())
    assert pseudo("Open a venue trace") in pages["venue-trace form"]  # the catalogue's text, not a bypass

    _, staff = r.server.create_staff_token("tracer-api", "venue-tracer")
    now = r.server.now()
    answers: dict[str, dict] = {}

    async def send(path: str, body: object, expect: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as s, s.post(r.url + path, json=body, headers=headers) as resp:
            error = (await resp.json())["error"]
        assert error["code"] == expect, (path, body, error)
        answers[f"{expect}: {body!r}"[:80]] = error

    tokens = "/v1/authority/venue-traces/tokens"
    await send(tokens, [], "invalid_json", staff)
    await send(tokens, {"venue": ""}, "invalid_venue", staff)
    await send(tokens, {"from": "yesterday", "to": 1}, "invalid_window", staff)
    await send(tokens, {"from": now + 7200, "to": now}, "invalid_window", staff)
    await send(tokens, {"from": now - 3600, "to": now + 90 * 86400}, "invalid_window", staff)
    await send(tokens, {"notice": "pay-now"}, "unknown_notice", staff)
    upload = "/v1/venue-traces/upload"
    await send(upload, {"message": "pay 500.000 VND"}, "free_text_notice")
    one_time = r.server.issue_one_time_token("venue-trace", {}, "test")["token"]
    await send(upload, {"token": one_time, "preTraces": "!!"}, "invalid_upload")
    await send(upload, {"token": one_time, "preTraces": "", "paperLog": "x"}, "invalid_upload")
    await send(upload, {"token": one_time, "preTraces": "", "paperLog": ["AAAA"]}, "invalid_upload")
    await send(upload, {"token": one_time, "preTraces": ""}, "venue_tracing_unconfigured")
    for name, error in answers.items():
        shown = " ".join(error["messages"].values())
        assert list(error["messages"]) == [PSEUDO_LANGUAGE] and shown.startswith("⟦"), (name, shown)
        assert untranslated(shown, ["'pay-now'", "f0-visit", "f0-visit-isolate", "f0-visit-test", "preTraces",
                                    "paperLog"]) == [], (name, shown)
