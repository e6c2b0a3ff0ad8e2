"""Every hook is documented, marked sync or async, and its example in
docs/hooks.md runs: each example is executed as a plugin module, registered
through the same manager as real plugins, called with realistic arguments,
and its effect checked (one test per hook). The examples of the hooks only
the authority calls run in authority/tests/test_hooks_documented.py."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import re
import types
from pathlib import Path
from typing import Any, Callable

import click
import jsonschema
import pytest
from click.testing import CliRunner

from bluezone import hookspecs
from bluezone.config import config_from_dict
from bluezone.matching.fixtures import deployment, new_signing_key
from bluezone.testing import documented_example, load_documented_example
from bluezone.plugins import BluezonePluginManager, call_hook, call_hook_async, collect_named

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"
DAY = dt.date(2026, 11, 20)


def hook_names() -> list[str]:
    return [n for n, _ in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("bluezone_")]


def sections() -> dict[str, str]:
    return dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", DOCS.read_text(), flags=re.M | re.S))


def example(hook: str) -> str:
    return documented_example(DOCS, hook)


def test_every_hook_has_a_docstring():
    missing = [n for n in hook_names() if not (getattr(hookspecs, n).__doc__ or "").strip()]
    assert missing == []


def test_every_hook_is_documented_with_an_example():
    found = sections()
    undocumented = [n for n in hook_names() if n not in found]
    assert undocumented == [], f"add a '## name' section to docs/hooks.md for: {undocumented}"
    without_example = [n for n in hook_names() if "```python" not in found[n]]
    assert without_example == []


def test_docs_list_no_hook_that_does_not_exist():
    documented = re.findall(r"^## (bluezone_\w+)", DOCS.read_text(), flags=re.M)
    assert sorted(set(documented) - set(hook_names())) == []


def test_every_hook_is_marked_sync_or_either_and_the_docs_table_agrees():
    assert sorted(hookspecs.HOOK_KINDS) == sorted(hook_names())
    assert set(hookspecs.HOOK_KINDS.values()) <= {"sync", "either"}
    table = dict(re.findall(r"^\| `(bluezone_\w+)` \| (\w+) \|$", DOCS.read_text(), flags=re.M))
    assert table == hookspecs.HOOK_KINDS


# --- executing each example ---------------------------------------------------------


def load_example(hook: str) -> tuple[types.ModuleType, BluezonePluginManager]:
    """The example as a module, registered alone on a real plugin manager."""
    return load_documented_example(DOCS, hook)


@pytest.fixture
def config():
    _, pem = new_signing_key()
    return config_from_dict(deployment(pem))


def make_alert():
    from bluezone.models import Alert, Tier

    return Alert("e1", Tier.F1, "ble", DAY, 0, DAY, {"vi": "Cảnh báo F1", "en": "F1 warning"})


def check_config_schema(pm, module, config, tmp_path):
    [schemas] = call_hook(pm.hook.bluezone_config_schema)
    validator = jsonschema.Draft202012Validator(schemas["sms_alerts"])
    assert validator.is_valid({"gateway": "https://sms.example.vn"})
    assert not validator.is_valid({})


def check_config_files(pm, module, config, tmp_path):
    [kinds] = call_hook(pm.hook.bluezone_config_files)
    path = tmp_path / "relay.toml"
    path.write_text('[relay]\nhost = "relay.example.vn"\nport = 99999\n')
    [problem] = kinds["relay"](path)
    assert (problem.location, problem.line) == ("[relay] port", 3)
    path.write_text("[relay]\nport = 8443\n")
    assert kinds["relay"](path) == []


def check_key_schedules(pm, module, config, tmp_path):
    schedule = collect_named(call_hook(pm.hook.bluezone_key_schedules), "key schedule")["hashed"]
    ids = list(schedule.derive(b"k" * 16, 100, 3))
    assert [d.interval for d in ids] == [100, 101, 102]
    assert len({d.identifier for d in ids}) == 3 and all(len(d.identifier) == 16 for d in ids)


async def check_proximity_sources(pm, module, config, tmp_path):
    from bluezone.store import DeviceStore

    source = collect_named(call_hook(pm.hook.bluezone_proximity_sources), "proximity source")["replay"]
    store = DeviceStore(tmp_path / "device.db", clock=lambda: 1_790_000_000)
    await source.run(store, None, config, recording=[(b"\x01" * 16, 1_789_999_000, -60)])
    [sighting] = list(store.sightings())
    assert (sighting.identifier, sighting.source) == (b"\x01" * 16, "replay")


async def check_transports(pm, module, config, tmp_path):
    from bluezone.transport import make_transport

    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "index.txt").write_text("")
    transport = make_transport(f"mirror://{tmp_path}", config, pm=pm)
    batches, _state = await transport.download("keys")
    assert batches == [] and type(transport).__name__ == "FileTransport"


def check_score_exposure_windows(pm, module, config, tmp_path):
    from bluezone.models import ExposureWindow, Infectiousness, ReportType, ScanInstance, Tier

    def window(att: int) -> ExposureWindow:
        return ExposureWindow(DAY, ReportType.CONFIRMED_TEST, Infectiousness.STANDARD,
                              tuple(ScanInstance(att, att, 60) for _ in range(2)), 0, Tier.F1)

    close, far = pm.hook.bluezone_score_exposure_windows(windows=[window(40), window(70)], config=config)
    assert close.exposed and close.weighted_minutes == 2
    assert not far.exposed


def check_feeds(pm, module, config, tmp_path):
    from bluezone.feed import collect_feeds
    from bluezone.models import PublishedBatch, Tier

    feed = collect_feeds(pm)["clinic-days"]
    batch = PublishedBatch("clinic-days", "1-2-1.txt", b"2026-11-18\n2026-11-19\n")
    exposures = feed.match(batch, None, config)
    assert [(e.tier, e.source, e.date) for e in exposures] == [
        (Tier.F1, "clinic", dt.date(2026, 11, 18)), (Tier.F1, "clinic", dt.date(2026, 11, 19))]


async def check_exposure_detected(pm, module, config, tmp_path):
    from bluezone.models import Exposure, Tier

    await call_hook_async(pm.hook.bluezone_exposure_detected, exposure=Exposure(Tier.F2, "ble", DAY), config=config)
    assert module.EXPOSURES_BY_TIER == {"F2": 1}


async def check_keys_uploaded(pm, module, config, tmp_path, caplog):
    from bluezone.models import ExposureKey

    keys = [ExposureKey(bytes(16), 2_900_000, 144), ExposureKey(bytes([1]) * 16, 2_900_144, 144)]
    with caplog.at_level(logging.INFO, logger="my_plugin"):
        await call_hook_async(pm.hook.bluezone_keys_uploaded, keys=keys, report_type=1, config=config)
    assert "uploaded 2 keys (report type 1)" in caplog.text


async def check_sync_finished(pm, module, config, tmp_path, capsys):
    from bluezone.sync import SyncStats

    stats = SyncStats(batches_processed=3, alerts_new=1).as_dict()  # the real keys, not invented ones
    await call_hook_async(pm.hook.bluezone_sync_finished, stats=stats, config=config)
    assert capsys.readouterr().out == "3 new batches, 1 new alerts\n"


async def check_deliver_alert(pm, module, config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    await call_hook_async(pm.hook.bluezone_deliver_alert, alert=make_alert(), language="vi", config=config)
    assert (tmp_path / "alerts-outbox.txt").read_text(encoding="utf-8") == "Cảnh báo F1\n"


def check_declaration_form(pm, module, config, tmp_path):
    from bluezone.declarations import build_form

    form = build_form(None, pm=pm)
    assert "temperature" in form and "seat" not in form
    assert form.extensions == ["gia-lai-1"]


async def check_declaration_submitters(pm, module, config, tmp_path, monkeypatch):
    from bluezone.declarations import Submission, SubmitError, build_form

    monkeypatch.chdir(tmp_path)
    factory = collect_named(call_hook(pm.hook.bluezone_declaration_submitters), "submitter")["outbox"]
    submitter = factory(config)
    form = build_form(None)
    receipt = await submitter.submit(Submission(b"sealed-bytes", None, form))  # type: ignore[arg-type]
    assert (tmp_path / "declarations-outbox" / f"{receipt}.sealed").read_bytes() == b"sealed-bytes"
    with pytest.raises(SubmitError):
        await submitter.submit(Submission(b"", None, form))  # type: ignore[arg-type]


def check_register_commands(pm, module, config, tmp_path):
    @click.group()
    def cli() -> None:
        pass

    call_hook(pm.hook.bluezone_register_commands, cli=cli)
    result = CliRunner().invoke(cli, ["hello"])
    assert result.exit_code == 0 and result.output == "xin chào\n"


def check_store_migrations(pm, module, config, tmp_path):
    from bluezone.store import DeviceStore

    for _ in range(2):  # applied once, then recorded
        store = DeviceStore(tmp_path / "device.db", plugins=pm)
        applied = store.db.execute("SELECT owner, name FROM _migrations WHERE owner = 'sms-alerts' "
                                   "ORDER BY name").fetchall()
        store.db.execute("INSERT INTO sms_outbox (alert_id) VALUES ('e1')")
        store.close()
    assert [tuple(r) for r in applied] == [("sms-alerts", "001_outbox"), ("sms-alerts", "002_outbox_index")]


def check_alert_sources(pm, module, config, tmp_path):
    from bluezone.matching.alerts import alert_sources, build_alert
    from bluezone.models import Exposure, Tier

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from bluezone import i18n

    words = alert_sources(pm)
    assert words["ultrasound"] == "by ultrasound"
    # the plugin's own catalogue words it in Vietnamese, as a plugin ships it
    messages = Catalog(locale="vi", domain="bluezone_ultrasound")
    messages.add("by ultrasound", "qua sóng siêu âm")
    (tmp_path / "vi" / "LC_MESSAGES").mkdir(parents=True)
    with open(tmp_path / "vi" / "LC_MESSAGES" / "bluezone_ultrasound.mo", "wb") as f:
        write_mo(f, messages)
    before = list(i18n._catalogues)
    try:
        i18n.register_catalogue(i18n.MessageCatalogue("bluezone_ultrasound", tmp_path))
        alert = build_alert(Exposure(Tier.F1, "ultrasound", DAY), {}, ["vi", "en"], 1_790_000_000, words)
    finally:
        i18n._catalogues[:] = before
        i18n._translations.clear()
    assert "by ultrasound" in alert.messages["en"] and "qua sóng siêu âm" in alert.messages["vi"]


def check_message_catalogues(pm, module, config, tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from bluezone import i18n
    from bluezone.plugins import _register_catalogues

    [[catalogue]] = call_hook(pm.hook.bluezone_message_catalogues)
    assert catalogue.domain == "bluezone_sms_alerts"
    assert catalogue.localedir == Path(module.__file__).parent / "locale"
    # ship a compiled catalogue where the example says, then register as the plugin set does
    module.__file__ = str(tmp_path / "bluezone_sms_alerts" / "__init__.py")
    [[catalogue]] = call_hook(pm.hook.bluezone_message_catalogues)
    messages = Catalog(locale="vi", domain=catalogue.domain)
    messages.add("Text message sent to {phone}", "Đã gửi tin nhắn tới {phone}")
    (catalogue.localedir / "vi" / "LC_MESSAGES").mkdir(parents=True)
    with open(catalogue.localedir / "vi" / "LC_MESSAGES" / "bluezone_sms_alerts.mo", "wb") as f:
        write_mo(f, messages)
    before = list(i18n._catalogues)
    try:
        assert _register_catalogues(pm) == []
        assert i18n._("Text message sent to {phone}", phone="0901").text("vi") == "Đã gửi tin nhắn tới 0901"
    finally:
        i18n._catalogues[:] = before
        i18n._translations.clear()


CHECKS: dict[str, Callable[..., Any]] = {
    name.removeprefix("check_"): value for name, value in dict(globals()).items() if name.startswith("check_")
}


#: Hooks only the authority calls; their examples run in the authority's own
#: lane (authority/tests/test_hooks_documented.py), where the server exists.
AUTHORITY_SIDE = {"bluezone_server_routes", "bluezone_server_migrations", "bluezone_server_retention",
                  "bluezone_staff_roles",
                  "bluezone_portal_pages", "bluezone_portal_menu_links", "bluezone_dashboard_counters"}


def test_every_hook_has_an_executed_example():
    here = {f"bluezone_{n}" for n in CHECKS}
    assert here.isdisjoint(AUTHORITY_SIDE)
    assert sorted(here | AUTHORITY_SIDE) == sorted(hook_names())


@pytest.mark.parametrize("hook", sorted(set(hook_names()) - AUTHORITY_SIDE))
async def test_documented_example_runs(hook, config, tmp_path, request):
    module, pm = load_example(hook)
    check = CHECKS[hook.removeprefix("bluezone_")]
    extra = {n: request.getfixturevalue(n) for n in inspect.signature(check).parameters
             if n not in ("pm", "module", "config", "tmp_path")}
    result = check(pm, module, config, tmp_path, **extra)
    if inspect.isawaitable(result):
        await result
