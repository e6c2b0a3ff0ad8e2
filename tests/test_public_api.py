"""The public API (``bluezone.__all__``) holds what docs/plugin-api.md promises.

* ``import bluezone`` stays cheap: no server, store, crypto or numpy until a
  name that needs them is used;
* every public name resolves, none is shadowed by a submodule of the same
  name, and unknown names fail as attributes do;
* the first-party plugin packages import nothing of the core but
  ``bluezone`` (and the authority's server/portal API, for now);
* every first-party object a plugin provides satisfies its Protocol: the
  ``isinstance`` check of the runtime-checkable Protocol *and* the method
  arguments, compared with :mod:`inspect`.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import bluezone
from bluezone import contracts
from bluezone.plugins import make_plugin_manager

REPO = Path(__file__).resolve().parent.parent

# --- the import is cheap --------------------------------------------------------------

#: Modules ``import bluezone`` must not load: each belongs to a name loaded on
#: first use (or to the authority), and each costs a phone's start-up time.
NOT_AT_IMPORT = ("aiohttp", "numpy", "cryptography", "nacl", "jinja2", "argon2", "click", "jsonschema",
                 "sqlite3", "google.protobuf", "bleak", "bluezone_authority", "bluezone.store",
                 "bluezone.config", "bluezone.cli", "bluezone.matching", "bluezone.declarations")


def test_import_bluezone_loads_only_the_light_modules():
    code = "import sys, json, bluezone; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert "bluezone.contracts" in loaded and "bluezone.models" in loaded
    assert sorted(m for m in NOT_AT_IMPORT if m in loaded) == []


def test_a_lazy_name_loads_its_module_on_first_use():
    code = ("import sys, bluezone; assert 'bluezone.store' not in sys.modules; "
            "s = bluezone.DeviceStore; assert 'bluezone.store' in sys.modules; "
            "from bluezone.store import DeviceStore; assert s is DeviceStore; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


# --- the names ------------------------------------------------------------------------


def test_every_public_name_resolves_once():
    assert len(bluezone.__all__) == len(set(bluezone.__all__))
    missing = [name for name in bluezone.__all__ if getattr(bluezone, name, None) is None]
    assert missing == []
    assert set(bluezone.__all__) <= set(dir(bluezone))
    # every name loaded on first use is public, and listed literally (for tools that read __all__)
    assert set(bluezone._LAZY) <= set(bluezone.__all__)


def test_no_public_name_is_a_submodule_name():
    # After ``import bluezone.sync`` the package attribute ``sync`` is the
    # module, so a public function of that name would silently change.
    submodules = {p.stem for p in (REPO / "bluezone").glob("*.py")} | {
        p.parent.name for p in (REPO / "bluezone").glob("*/__init__.py")}
    assert sorted(set(bluezone.__all__) & submodules) == []


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'hookspec'"):
        bluezone.hookspec  # noqa: B018 - the core's marker for specs is not for plugins
    with pytest.raises(ImportError):
        exec("from bluezone import no_such_name", {})


def test_the_protocols_are_exported_from_bluezone():
    for name in ("Feed", "Transport", "KeySchedule", "ProximitySource", "Scorer", "AlertSink", "Submitter", "Form"):
        assert name in bluezone.__all__
        assert getattr(bluezone, name) is getattr(contracts, name)
        assert getattr(getattr(bluezone, name), "_is_runtime_protocol", False), name


# --- first-party plugins use only the public API ----------------------------------------

#: Core modules a plugin may import: the public API and the hook specifications.
PUBLIC = {"bluezone", "bluezone.hookspecs", "bluezone.i18n"}
#: The authority side (server routes, portal pages, staff roles, test
#: processes) is its own distribution, ``bluezone_authority``, with its own
#: API: imports of it are not imports of the core, so the check passes them.


def private_imports(source: str, filename: str = "<source>") -> list[str]:
    """``line: module`` for every import of a private core module in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            modules = [node.args[0].value]
        for module in modules:
            if module.split(".")[0] != "bluezone" or module in PUBLIC:
                continue
            found.append(f"{filename}:{node.lineno}: {module}")
    return found


def plugin_package_files() -> list[Path]:
    """Every module of every first-party plugin package (their tests may use
    the core's test fixtures, so they are not held to this)."""
    files = []
    for init in sorted((REPO / "plugins").glob("*/*/__init__.py")):
        if init.parent.name != "tests":
            files += sorted(init.parent.rglob("*.py"))
    return files


def test_the_check_catches_every_form_of_private_import():
    source = ("import bluezone.models\nfrom bluezone.store import DeviceStore\n"
              "def f():\n    from bluezone.cli.common import fail\n"
              "import importlib\nimportlib.import_module('bluezone.sync')\n"
              "from bluezone import hookimpl\nfrom bluezone.hookspecs import hookimpl\n"
              "from bluezone_authority.server import ApiError\nfrom .local import thing\nimport bluezone_ble.cli\n")
    assert private_imports(source) == ["<source>:1: bluezone.models", "<source>:2: bluezone.store",
                                       "<source>:4: bluezone.cli.common", "<source>:6: bluezone.sync"]


def test_first_party_plugins_import_only_the_public_api():
    files = plugin_package_files()
    packages = {f.relative_to(REPO / "plugins").parts[1] for f in files}
    assert {"bluezone_ble", "bluezone_demo", "bluezone_qr_checkin"} <= packages
    offenders = [hit for f in files for hit in private_imports(f.read_text(), f.relative_to(REPO).as_posix())]
    assert offenders == [], "import these from bluezone (docs/plugin-api.md), or make them public there"


#: The pages a plugin author copies from: their examples teach the public API.
PLUGIN_DOCS = ("README.md", "docs/hooks.md", "docs/writing-plugins.md", "docs/plugin-api.md")


@pytest.mark.parametrize("page", PLUGIN_DOCS)
def test_plugin_docs_examples_import_only_the_public_api(page):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), flags=re.S)
    offenders = [hit for block in blocks for hit in private_imports(textwrap.dedent(block), page)]
    assert offenders == []


# --- every first-party implementation satisfies its Protocol ----------------------------


def argument_problems(impl: Any, proto: Any, what: str) -> list[str]:
    """How ``impl`` (a bound method or plain function) fails to accept the
    arguments the core passes to ``proto`` (a Protocol's method), compared
    parameter by parameter: the Protocol's positional parameters by name and
    order, its keyword-only ones by name, anything extra with a default; and
    ``async def`` exactly where the Protocol has it."""
    problems = []
    expected = [p for p in inspect.signature(proto).parameters.values() if p.name != "self"]
    actual = {n: p for n, p in inspect.signature(impl).parameters.items() if n != "self"}  # plain or bound
    positional = [p.name for p in actual.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in actual.values())
    for i, p in enumerate(expected):
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if i >= len(positional) or positional[i] != p.name:
                problems.append(f"{what}: argument {i + 1} must be {p.name!r} (has {positional})")
        elif p.kind == p.KEYWORD_ONLY and p.name not in actual and not open_kwargs:
            problems.append(f"{what}: no keyword argument {p.name!r}")
        if p.default is not p.empty and p.name in actual and actual[p.name].default is p.empty:
            problems.append(f"{what}: {p.name!r} needs a default, as in the Protocol")
    names = {p.name for p in expected}
    for p in actual.values():
        if p.name not in names and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            problems.append(f"{what}: extra argument {p.name!r} has no default; the core never passes it")
    if inspect.iscoroutinefunction(proto) != inspect.iscoroutinefunction(impl):
        problems.append(f"{what}: must {'' if inspect.iscoroutinefunction(proto) else 'not '}be async def")
    return problems


#: Methods whose implementations may be either ``def`` or ``async def``.
EITHER = {("Submitter", "submit"), ("AlertSink", "bluezone_deliver_alert")}


def protocol_problems(obj: Any, proto: type, label: str) -> list[str]:
    """Everything ``obj`` lacks to satisfy ``proto``: isinstance first, then
    the arguments of each of the Protocol's own methods."""
    if not isinstance(obj, proto):
        return [f"{label}: not a {proto.__name__} (missing {sorted(_members(proto) - set(dir(obj)))})"]
    problems = []
    for name in sorted(_members(proto)):
        wanted = getattr(proto, name, None)
        if not callable(wanted) or name.startswith("__"):
            continue
        impl = getattr(obj, name)
        found = argument_problems(impl, wanted, f"{label}.{name}")
        if (proto.__name__, name) in EITHER:
            found = [p for p in found if "async def" not in p]
        problems += found
    return problems


def _members(proto: type) -> set[str]:
    return set(proto.__protocol_attrs__) if hasattr(proto, "__protocol_attrs__") else {
        n for n in vars(proto) if not n.startswith("_")} | set(getattr(proto, "__annotations__", {}))


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager()


def _flat(results: list[Any]) -> list[Any]:
    return [item for result in results for item in result]


def _merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for result in results:
        out.update(result)
    return out


@pytest.mark.needs_plugins  # checks the first-party plugins' parts too: runs where all are installed
def test_proximity_sources_satisfy_the_protocol(pm):
    sources = _flat(pm.hook.bluezone_proximity_sources())
    assert {s.name for s in sources} >= {"ble", "sim"}
    assert [p for s in sources for p in protocol_problems(s, bluezone.ProximitySource, s.name)] == []


@pytest.mark.needs_plugins  # checks the first-party plugins' parts too: runs where all are installed
def test_feeds_satisfy_the_protocol(pm):
    feeds = _flat(pm.hook.bluezone_feeds())
    assert {f.name for f in feeds} >= {"keys", "venue-traces"}
    assert [p for f in feeds for p in protocol_problems(f, bluezone.Feed, f.name)] == []


@pytest.mark.needs_plugins  # checks the first-party plugins' parts too: runs where all are installed
def test_transports_satisfy_the_protocol(pm):
    factories = _merged(pm.hook.bluezone_transports())
    assert set(factories) >= {"http", "https", "file", "loopback"}
    problems = []
    for scheme, factory in factories.items():
        assert argument_problems(factory, lambda url, config: None, f"{scheme} factory") == []
        cls = getattr(factory, "__self__", factory)  # a classmethod ``from_config`` or the class itself
        assert issubclass(cls, bluezone.Transport), scheme
        for name in sorted(_members(bluezone.Transport)):
            problems += argument_problems(getattr(cls, name), getattr(bluezone.Transport, name), f"{scheme}.{name}")
    assert problems == []


def test_a_made_transport_is_a_transport(pm, tmp_path):
    factories = _merged(pm.hook.bluezone_transports())
    transport = factories["file"](tmp_path.as_uri(), None)
    assert protocol_problems(transport, bluezone.Transport, "file") == []


def test_key_schedules_satisfy_the_protocol(pm):
    schedules = _flat(pm.hook.bluezone_key_schedules())
    assert {s.name for s in schedules} >= {"gaen", "dp3t-lowcost"}
    assert [p for s in schedules for p in protocol_problems(s, bluezone.KeySchedule, s.name)] == []


def test_scorers_and_alert_sinks_satisfy_the_protocols(pm):
    scorers = [impl.plugin for impl in pm.hook.bluezone_score_exposure_windows.get_hookimpls()]
    sinks = [impl.plugin for impl in pm.hook.bluezone_deliver_alert.get_hookimpls()]
    assert scorers and sinks
    problems = [p for s in scorers for p in protocol_problems(s, bluezone.Scorer, s.__name__)]
    problems += [p for s in sinks for p in protocol_problems(s, bluezone.AlertSink, s.__name__)]
    assert problems == []


def test_submitters_satisfy_the_protocol(pm):
    from bluezone.matching.fixtures import deployment, new_signing_key

    data = deployment(new_signing_key()[1])
    data["declarations"] = {"ncovi": {"url": "https://ncovi.example.vn/api"}}
    config = bluezone.config_from_dict(data)
    factories = _merged(pm.hook.bluezone_declaration_submitters())
    assert set(factories) >= {"authority", "ncovi"}
    problems = []
    for name, factory in factories.items():
        submitter = factory(config)
        assert submitter.name == name
        problems += protocol_problems(submitter, bluezone.Submitter, name)
    assert problems == []


def test_the_declaration_form_satisfies_the_protocol(pm):
    from bluezone.declarations import build_form

    assert protocol_problems(build_form(None, pm), bluezone.Form, "form") == []


def test_the_comparison_finds_wrong_arguments_and_a_wrong_kind():
    class TwoArgumentFeed:
        name = "bad"

        def match(self, batch, store):  # the core passes config too
            return []

    class AsyncFeed:
        name = "bad-async"

        async def match(self, batch, store, config):
            return []

    class Unnamed:
        def match(self, batch, store, config):
            return []

    assert protocol_problems(TwoArgumentFeed(), bluezone.Feed, "bad") == [
        "bad.match: argument 3 must be 'config' (has ['batch', 'store'])"]
    assert protocol_problems(AsyncFeed(), bluezone.Feed, "bad-async") == ["bad-async.match: must not be async def"]
    assert protocol_problems(Unnamed(), bluezone.Feed, "unnamed") == ["unnamed: not a Feed (missing ['name'])"]
