"""The phone's client in the pseudo-locale: every text it shows goes through
the message catalogue.

The real ``bluezone`` console script runs in subprocesses with
``$BLUEZONE_LOCALE_DIRS`` pointing at a ``qps`` catalogue built from every
installed domain's template and a deployment whose only language is
``qps``; any English word left outside the ⟦brackets⟧ is a text that
bypassed the catalogue. Allowed are only what the test itself put in (paths,
the deployment's name, the typed codes) and code, not text: option flags,
metavars, section/key names, plugin and command names.

Plugins from other distributions are switched off (``BLUEZONE_DISABLE_PLUGINS``)
so this measures the core client in any virtualenv; their own commands and
texts are checked by their own pseudo-locale tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bluezone import i18n
from bluezone.declarations import KeyPair
from bluezone.export import write_export
from bluezone.i18n.pseudo import PSEUDO_LANGUAGE, untranslated, write_pseudo_catalogues
from bluezone.matching.fixtures import contact_sightings, new_signing_key
from bluezone.models import ExposureKey, ReportType, interval_number
from bluezone.plugins import plugin_set
from bluezone.schedules.gaen import SCHEDULE as GAEN
from bluezone.store import DeviceStore

BLUEZONE = str(Path(sys.executable).with_name("bluezone"))
SIGNER, PEM = new_signing_key()
NAME = "Gia Lai"

#: Code, not text: option flags, metavars, choice lists, config locations, the program's name.
CODE = [
    re.compile(r"(?<![\w⟦])--?[a-z][\w-]*(?:/--?[a-z][\w-]*)?"),  # --store, -h, --keep-copy/--no-keep-copy
    re.compile(r"\b[A-Z][A-Z_]{2,}\b"),  # PATH, INTEGER, LANG, ID_HEX
    re.compile(r"\[\w+\](?: \w+)?"),  # [retention] days, [plugins] disabled
    re.compile(r"\[[\w|]+\]"),  # [16|32|any]
    re.compile(r"(?m)^\s+[a-z][a-z_]*(?= \()"),  # a declaration field's id before its label: "  year_of_birth (…)"
    re.compile(r"\bbluezone(?: (?:init|status|sync|report|config|check|schedule|list|derive|export|verify|show|plugins"
               r"|declare|cover|privacy|consent|give|withdraw|settings|my-data|forget))*\b"),  # the usage line's program and command
]


def english_left(shown: str, allowed: list[str]) -> list[str]:
    """English words outside the brackets, once code and the test's own values are taken out."""
    rest = shown
    for value in sorted(allowed, key=len, reverse=True):
        rest = rest.replace(value, " ")
    for pattern in CODE:
        rest = pattern.sub(" ", rest)
    return untranslated(rest)


def other_distributions_plugins() -> list[str]:
    """Installed plugins not shipped by the core distribution."""
    return sorted({ep.name for ep in entry_points(group="bluezone")
                   if ep.dist is not None and ep.dist.metadata["Name"] != "bluezone"})


def pseudo_locale(folder: Path) -> Path:
    """A qps catalogue for every installed domain that ships a template."""
    plugin_set(None, environ={})  # registers every installed plugin's domain
    templates = [(c.domain, c.localedir / f"{c.domain}.pot") for c in i18n.registered_catalogues()]
    assert templates[0][0] == "bluezone" and templates[0][1].is_file()
    return write_pseudo_catalogues([(d, t) for d, t in templates if t.is_file()], folder / "locale")


DEPLOYMENT = """
[deployment]
name = "{name}"
region = "452"
languages = ["{language}"]

[risk]
attenuation_thresholds_db = [50, 70, 90]
bucket_weights = {{ immediate = 1.0, near = 1.0, medium = 0.5, other = 0.0 }}

[authority]
url = "{url}"
export_keys = [ {{ key_id = "452", public_key = "export.pub.pem" }} ]
declaration_public_key = "{declaration_key}"
{extra}
"""


class Client:
    """The console script in the pseudo-locale, in one folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        (folder / "export.pub.pem").write_text(SIGNER.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        self.allowed = [str(folder), NAME]
        self.mirror = folder / "mirror"
        (self.mirror / "keys").mkdir(parents=True)
        self.config = self.deployment("phone.toml", url=f"file://{self.mirror}")
        self.store = folder / "phone.db"
        self.env = {**os.environ, i18n.ENV_LOCALE_DIRS: str(pseudo_locale(folder)), "BLUEZONE_CONFIG": str(self.config),
                    "BLUEZONE_DISABLE_PLUGINS": ",".join(other_distributions_plugins()), "COLUMNS": "200"}
        self.env.pop("BLUEZONE_STORE", None)

    def deployment(self, name: str, url: str, extra: str = "", language: str = PSEUDO_LANGUAGE) -> Path:
        path = self.folder / name
        self.allowed.append(str(path))
        path.write_text(DEPLOYMENT.format(name=NAME, language=language, url=url, extra=extra,
                                          declaration_key=KeyPair.generate().public_b64))
        return path

    def run(self, *args: str, stdin: str | None = None, config: Path | None = None) -> subprocess.CompletedProcess:
        env = dict(self.env, BLUEZONE_CONFIG=str(config or self.config))
        return subprocess.run([BLUEZONE, *args], capture_output=True, text=True, env=env, input=stdin,
                              cwd=self.folder, timeout=120)

    def phone(self, *args: str, config: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
        config = config or self.config
        return self.run(*args, "--config", str(config), "--store", str(self.store), stdin=stdin, config=config)

    def assert_translated(self, out: subprocess.CompletedProcess, *extra_allowed: str) -> str:
        shown = out.stdout + out.stderr
        assert english_left(shown, [*self.allowed, *extra_allowed]) == [], shown
        return shown


@pytest.fixture
def client(tmp_path) -> Client:
    return Client(tmp_path)


def publish_a_confirmed_case_met_for_20_minutes(client: Client) -> None:
    """An F0's key in the mirror, and 20 minutes close to it in the phone's store (F1)."""
    day0 = int(time.time()) // 86400 * 86400 - 3 * 86400
    now = int(time.time())
    case = ExposureKey(os.urandom(16), interval_number(day0 + 86400), 144, 2, ReportType.CONFIRMED_TEST, 1)
    noise = [ExposureKey(os.urandom(16), interval_number(day0) + 144 * (i % 3)) for i in range(50)]
    data = write_export([case, *noise], SIGNER, region="452", start_timestamp=day0, end_timestamp=now, key_id="452")
    name = f"{day0}-{now}-1.zip"
    (client.mirror / "keys" / name).write_bytes(data)
    (client.mirror / "keys" / "index.txt").write_text(name + "\n")
    with DeviceStore(client.store, create=False) as store:
        store.add_sightings(contact_sightings(GAEN, case, day0 + 86400 + 10 * 3600, 20, rssi=-60, tx_power=-10))


# --- help ------------------------------------------------------------------------------------

CORE_COMMANDS = [(), ("init",), ("status",), ("sync",), ("report",), ("config",), ("config", "check"),
                 ("schedule",), ("schedule", "list"), ("schedule", "derive"), ("export",), ("export", "verify"),
                 ("export", "show"), ("plugins",), ("declare",), ("cover",), ("privacy",), ("consent",),
                 # the group's --store is required before its subcommands' help
                 ("consent", "--store", "phone.db", "give"), ("consent", "--store", "phone.db", "withdraw"),
                 ("settings",), ("my-data",), ("forget",)]
#: The purposes a person consents to (names, shown as choices) and the rights commands' names.
PURPOSE_AND_RIGHTS_NAMES = ("bluetooth", "venues", "declarations", "submitters", "privacy", "consent", "give",
                            "withdraw", "settings", "my-data", "forget", "off", "all|none")


def test_the_help_of_every_core_command_is_translated(client):
    for command in CORE_COMMANDS:
        out = client.run(*command, "--help")
        assert out.returncode == 0, (command, out.stderr)
        shown = client.assert_translated(out, *command, "init", "status", "sync", "report", "config", "schedule",
                                         "export", "plugins", "declare", "cover", "check", "list", "derive", "verify", "show",
                                         "demo", "gaen", "dp3t", "lowcost", "unix_time", "ENIN", "GAEN", "NCOVI",
                                         "key_data", "export.zip", "export.bin", "export.sig", "TOML", "JSON",
                                         "P-256", "PEM", "hex", "scorer", "alert sink", "transport:SCHEME",
                                         *PURPOSE_AND_RIGHTS_NAMES)
        assert "⟦" in shown  # really shown in the pseudo-locale, not an empty page


# --- a phone's day: init, status, sync, status with a warning -----------------------------------


def test_init_status_sync_and_a_warning_are_translated(client):
    # init shows the processing notice and asks consent purpose by purpose: yes to each
    init = client.phone("init", stdin="y\n" * 5)
    assert init.returncode == 0, init.stderr
    shown = client.assert_translated(init, *PURPOSE_AND_RIGHTS_NAMES, "y/N")
    assert shown.count("⟦") > 10  # the notice and the questions

    empty = client.phone("status")
    assert empty.returncode == 0, empty.stderr
    client.assert_translated(empty)

    publish_a_confirmed_case_met_for_20_minutes(client)
    synced = client.phone("sync", "--no-decoy")
    assert synced.returncode == 0, synced.stderr
    client.assert_translated(synced)

    warned = client.phone("status")
    assert warned.returncode == 0, warned.stderr
    shown = client.assert_translated(warned, "F1")
    assert "F1" in shown and shown.count("⟦") > 10  # the warning's table and advice are on the screen
    assert json.loads(client.phone("status", "--json").stdout)["status"] == "F1"


# --- errors a person meets --------------------------------------------------------------------


def test_refusals_and_usage_errors_are_translated(client):
    missing = client.phone("status")  # no store yet
    assert missing.returncode == 2
    client.assert_translated(missing)

    for args in (("status",), ("init", "--store", str(client.store), "--language", "xx", "--config",
                               str(client.config))):
        out = client.run(*args)
        assert out.returncode == 2, out
        client.assert_translated(out, "xx")

    assert client.phone("init", "--consent", "all").returncode == 0
    twice = client.phone("init", "--consent", "all")
    assert twice.returncode == 2
    client.assert_translated(twice)

    early = client.phone("report", "--code", "12345678")  # only today's key: nothing ended to send yet
    assert early.returncode == 1
    client.assert_translated(early, "12345678")

    offline = client.deployment("offline.toml", url="http://127.0.0.1:9", extra="[transport]\nretries = 0\n")
    for args in (("sync", "--no-decoy"), ("report", "--code", "12345678")):
        out = client.phone(*args, config=offline)
        assert out.returncode == 1, out
        client.assert_translated(out, "12345678", "network")


def test_declaration_prompts_and_answer_errors_are_translated(client):
    assert client.phone("init", "--consent", "all").returncode == 0
    # a name, a year of birth that is refused, then the person stops (end of input); the form
    # speaks the phone's language (chosen at init), so it does not ask for one
    out = client.phone("declare", stdin="Nguyen Van An\n1800\n")
    assert out.returncode == 1, out  # cancelled: nothing sealed or sent
    shown = client.assert_translated(out, PSEUDO_LANGUAGE, "ncovi/1", "1900")
    assert shown.count("⟦") >= 5 and "Aborted" not in shown
    last = out.stdout.strip().splitlines()[-1]  # "Declaration cancelled; ...", in the pseudo-locale too
    assert last.startswith("⟦") and last.endswith("⟧"), last

    bad = client.folder / "answers.json"
    bad.write_text(json.dumps({"full_name": "A", "year_of_birth": 1800, "colour": "blue"}))
    refused = client.phone("declare", "--from-json", str(bad), "--no-submit")
    assert refused.returncode == 2
    client.assert_translated(refused, "full_name", "year_of_birth", "colour", "1800", "1900")


# --- the deployment file and the plugins ---------------------------------------------------------


def test_config_check_and_plugins_are_translated(client):
    listing = client.run("plugins", "--json")
    names = [p["name"] for p in json.loads(listing.stdout)["plugins"]]
    plugins = json.loads(listing.stdout)["plugins"]
    code = [*names, *{p["distribution"] for p in plugins if p["distribution"]},
            *{c for p in plugins for c in p["capabilities"]}]

    table = client.run("plugins")
    assert table.returncode == 0, table.stderr
    client.assert_translated(table, *code, "BLUEZONE_DISABLE_PLUGINS")

    ok = client.run("config", "check", str(client.config))
    assert ok.returncode == 0, ok.stderr
    client.assert_translated(ok, *code, "gaen")

    broken = client.deployment("broken.toml", url="https://a.example",
                               extra='[retention]\ndays = "fourteen"\n[plugins]\ndisabled = ["nope"]\n')
    out = client.run("config", "check", str(broken), config=broken)
    assert out.returncode == 1
    shown = client.assert_translated(out, *code, "'fourteen'", "integer", "str", "'nope'", "none")
    assert shown.count("\n") >= 3  # each problem on its line, then the count
