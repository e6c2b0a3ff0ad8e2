"""The plugin set: discovery, choice, checks, and calling hooks.

Plugins are found only through the ``bluezone`` entry-point group; the core
never imports a plugin by name. Which of them a process uses is decided in
one place, :func:`plugin_set`, from the deployment file's ``[plugins]``
section (``enabled`` / ``disabled``) and the ``BLUEZONE_DISABLE_PLUGINS``
environment variable; the command line, ``Config.pm``, ``config check`` and
``bluezone plugins`` all go through it, so they cannot disagree.

Building the set also checks what pytest and pluggy make easy to forget:
an entry point that fails to import is named with its distribution; a hook
implementation with a misspelled name (pluggy's ``check_pending``) or an
argument the hook does not pass is refused; an ``async def`` implementation
of a sync-only hook (:data:`bluezone.hookspecs.HOOK_KINDS`) is refused; and a
deployment cannot switch off the last plugin providing an essential
capability (a scorer for keys, an alert sink, a transport for the authority
URL's scheme). Each problem is a :class:`PluginProblem` with a location, so
``config check`` lists them next to the file's other problems.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pluggy

from . import hookspecs
from .i18n import N_, Message, _, _n

ENTRY_POINT_GROUP = "bluezone"
ENV_DISABLE = "BLUEZONE_DISABLE_PLUGINS"
ENV_CONFIG = "BLUEZONE_CONFIG"

# Why a plugin is (in)active, as `bluezone plugins` prints it (msgids: shown through the catalogue).
ENABLED_BY_DEFAULT = N_("enabled by default")
ENABLED_BY_LIST = N_("listed in [plugins] enabled")
DISABLED_BY_FILE = N_("disabled by [plugins] disabled")
DISABLED_BY_ENV = N_("disabled by BLUEZONE_DISABLE_PLUGINS")
NOT_ENABLED = N_("not in [plugins] enabled")
FAILED = N_("failed to load")

SCORER = "scorer"
ALERT_SINK = "alert sink"
TRANSPORT = "transport"
# Essential capabilities a deployment may knowingly do without ([plugins] allow_missing).
OPTIONAL_CAPABILITIES = frozenset({ALERT_SINK})


class PluginError(Exception):
    """A plugin could not be found, loaded or used. ``detail`` is what is
    wrong without the plugin's name (a problem list names it once, itself)."""

    def __init__(self, message: object, detail: object = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


def _refuse(name: str, detail: Message) -> PluginError:
    return PluginError(_("plugin {name!r}: {detail}", name=name, detail=detail), detail)


# --- the manager: registration refuses what would fail later ----------------------


def _close_hook(name: str, known: Iterable[str]) -> Message | str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return _(" (did you mean {name}?)", name=match[0]) if match else ""


class BluezonePluginManager(pluggy.PluginManager):
    """A pluggy manager whose ``register`` refuses, with one line naming the
    plugin and the hook: an implementation of a hook that does not exist, an
    argument the hook does not pass, and ``async def`` for a sync-only hook.

    Everything registers through here (entry points, and tests or embedders
    calling ``pm.register``), so the rules hold however a plugin arrives."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        shown = name or self.get_canonical_name(plugin)
        try:
            registered = super().register(plugin, name)
        except pluggy.PluginValidationError as e:
            raise PluginError(f"plugin {shown!r}: {_one_line(str(e))}") from e
        if registered is None:
            return None
        try:
            self._check_registered(plugin, registered)
        except PluginError:
            self.unregister(plugin)
            raise
        return registered

    def _check_registered(self, plugin: Any, name: str) -> None:
        for caller in self.get_hookcallers(plugin) or []:
            impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
            if not caller.has_spec():
                if any(not i.optionalhook for i in impls):
                    raise _refuse(name, _("{hook} is not a Bluezone hook{suggestion}; the hooks are listed in "
                                          "docs/hooks.md", hook=caller.name,
                                          suggestion=_close_hook(caller.name, hookspecs.HOOK_KINDS)))
                continue
            if hookspecs.HOOK_KINDS.get(caller.name) != "sync":
                continue
            for impl in impls:
                if inspect.iscoroutinefunction(impl.function) or inspect.isasyncgenfunction(impl.function):
                    why = getattr(getattr(hookspecs, caller.name), "bluezone_kind_why", "")
                    raise _refuse(name, _("{hook} must be synchronous{why}, but its implementation is 'async def'",
                                          hook=caller.name, why=" ({})".format(why) if why else ""))


def _one_line(message: str) -> str:
    """pluggy's validation messages span lines; the CLI shows one."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    keep = [line for line in lines if not line.startswith("Plugin ")]
    return "; ".join(keep or lines)


# --- choosing plugins ---------------------------------------------------------------


@dataclass(frozen=True)
class PluginProblem:
    """Something wrong with the plugin set; ``location`` is where to fix it
    (``[plugins] disabled``, ``BLUEZONE_DISABLE_PLUGINS``, ``plugin 'x'``)."""

    location: str
    message: str
    essential: bool = False  # a missing essential capability (not a broken plugin)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin as ``bluezone plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    active: bool
    reason: str
    capabilities: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "active": self.active, "reason": self.reason, "capabilities": list(self.capabilities),
                "hooks": list(self.hooks)}


@dataclass
class PluginSet:
    """The plugins a process uses: the manager to call hooks on, every
    installed plugin with why it is (in)active, and the problems found."""

    pm: BluezonePluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)
    source: Path | None = None  # the deployment file it was built from, if any
    allowed_missing: tuple[str, ...] = ()  # essential capabilities the file waived

    inactive: dict[str, tuple[EntryPoint, str]] = field(default_factory=dict, repr=False)

    def inactive_sections(self) -> dict[str, tuple[str, str]]:
        """``{section: (plugin, why inactive)}`` for configuration sections that
        switched-off plugins would claim, so a leftover section is explained
        rather than called unknown. Imports those plugins (only for this
        message), ignoring their import errors."""
        out: dict[str, tuple[str, str]] = {}
        for name, (ep, reason) in self.inactive.items():
            try:
                hook = getattr(ep.load(), "bluezone_config_schema", None)
                schemas = hook() if callable(hook) else {}
            except Exception:  # noqa: BLE001 - switched off; its failures are not this deployment's
                continue
            for section in schemas or {}:
                out.setdefault(section, (name, reason))
        return out

    def active_names(self) -> list[str]:
        return sorted(p.name for p in self.plugins if p.active)

    def raise_for_problems(self) -> None:
        """Raise :class:`PluginError` with every problem, one per line."""
        if self.problems:
            raise PluginError("\n".join(map(str, self.problems)))


def _split_env(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _capabilities(plugin: Any) -> tuple[str, ...]:
    """Which essential capabilities a plugin object provides, read from its
    hook implementations (transports by scheme: ``transport:https``)."""
    probe = pluggy.PluginManager(ENTRY_POINT_GROUP)
    caps: list[str] = []
    names = {n for n in dir(plugin) if probe.parse_hookimpl_opts(plugin, n) is not None}
    if "bluezone_score_exposure_windows" in names:
        caps.append(SCORER)
    if "bluezone_deliver_alert" in names:
        caps.append(ALERT_SINK)
    if "bluezone_transports" in names:
        try:
            schemes = plugin.bluezone_transports() or {}
            caps.extend(f"{TRANSPORT}:{s}" for s in sorted(schemes))
        except Exception:  # noqa: BLE001 - a broken transport hook shows up when used
            caps.append(TRANSPORT)
    return tuple(caps)


def _names_from(section: Mapping[str, Any] | None, key: str) -> list[str] | None:
    if not isinstance(section, Mapping) or key not in section:
        return None
    value = section[key]
    if not isinstance(value, list):
        return None  # the schema reports the wrong type
    return [v for v in value if isinstance(v, str)]


def plugin_set(
    section: Mapping[str, Any] | None = None,
    *,
    authority_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PluginSet:
    """Build the plugin set from a deployment's ``[plugins]`` section (``None``
    when there is no deployment file) and the environment's
    ``BLUEZONE_DISABLE_PLUGINS``: the one way every part of Bluezone gets its
    plugins, so a plugin disabled anywhere adds no hook, command or section.

    Never raises for a bad choice or a bad plugin: it records a
    :class:`PluginProblem` and registers what it can, so ``config check`` and
    ``bluezone plugins`` can show everything at once. ``authority_url`` adds
    the check that some active plugin offers a transport for its scheme."""
    environ = os.environ if environ is None else environ
    disabled = _names_from(section, "disabled") or []
    enabled = _names_from(section, "enabled")
    allow_missing = set(_names_from(section, "allow_missing") or []) & OPTIONAL_CAPABILITIES
    env_disabled = _split_env(environ.get(ENV_DISABLE, ""))

    pm = BluezonePluginManager()
    result = PluginSet(pm)
    installed: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in installed and installed[ep.name].value != ep.value:
            dists = [_dist_of(e)[0] or e.value for e in (installed[ep.name], ep)]
            result.problems.append(PluginProblem(
                f"plugin {ep.name!r}", str(_("two distributions install a plugin with this name: {first} and {second}",
                                             first=dists[0], second=dists[1]))))
            continue
        installed.setdefault(ep.name, ep)

    for where, names in (("[plugins] disabled", disabled), ("[plugins] enabled", enabled or []),
                         (ENV_DISABLE, env_disabled)):
        for name in names:
            if name not in installed:
                result.problems.append(PluginProblem(
                    where, str(_("unknown plugin {name!r}{suggestion}; installed: {names}", name=name,
                                 suggestion=_close_hook(name, installed),
                                 names=", ".join(sorted(installed)) or _("none")))))

    inactive: dict[str, tuple[EntryPoint, str]] = {}
    for name, ep in installed.items():  # discovery order, as pluggy's own loader: hook call order depends on it
        dist, version = _dist_of(ep)
        if name in env_disabled:
            reason = DISABLED_BY_ENV
        elif name in disabled:
            reason = DISABLED_BY_FILE
        elif enabled is not None and name not in enabled:
            reason = NOT_ENABLED
        else:
            reason = ENABLED_BY_LIST if enabled is not None else ENABLED_BY_DEFAULT
        if reason not in (ENABLED_BY_DEFAULT, ENABLED_BY_LIST):
            pm.set_blocked(name)
            inactive[name] = (ep, reason)
            result.plugins.append(PluginInfo(name, dist, version, False, reason))
            continue
        where = f"plugin {name!r}"
        try:
            plugin = ep.load()
        except Exception as e:  # noqa: BLE001 - any import failure is reported, not raised
            problem = (_("error importing plugin {name!r} from distribution {dist} {version} ({value}): {error}",
                         name=name, dist=dist, version=version, value=ep.value, error="{}: {}".format(type(e).__name__, e))
                       if dist else _("error importing plugin {name!r} ({value}): {error}", name=name, value=ep.value,
                                      error="{}: {}".format(type(e).__name__, e)))
            result.problems.append(PluginProblem(where, str(problem)))
            result.plugins.append(PluginInfo(name, dist, version, False, FAILED))
            continue
        try:
            pm.register(plugin, name)
        except (PluginError, ValueError) as e:
            detail = e.detail if isinstance(e, PluginError) else str(e)
            if isinstance(detail, str):
                detail = detail.removeprefix(f"plugin {name!r}: ")
            result.problems.append(PluginProblem(where, str(_("{problem} (distribution {dist} {version})", problem=detail,
                                                              dist=dist, version=version)) if dist else str(detail)))
            result.plugins.append(PluginInfo(name, dist, version, False, FAILED))
            continue
        hooks = tuple(sorted(c.name for c in pm.get_hookcallers(plugin) or []))
        result.plugins.append(PluginInfo(name, dist, version, True, reason, _capabilities(plugin), hooks))

    try:
        pm.check_pending()  # register() refused unknown hooks already; this is pluggy's own word on it
    except pluggy.PluginValidationError as e:
        result.problems.append(PluginProblem("plugins", str(e)))

    result.problems.extend(_register_catalogues(pm))
    result.inactive = inactive
    result.problems.extend(_essential_problems(result, inactive, authority_url, allow_missing))
    result.allowed_missing = tuple(sorted(allow_missing))
    return result


def _register_catalogues(pm: pluggy.PluginManager) -> list[PluginProblem]:
    """Add each active plugin's translations to the one message catalogue
    (``bluezone_message_catalogues``); anything else returned is a problem."""
    from .i18n import MessageCatalogue, register_catalogue

    problems: list[PluginProblem] = []
    for impl in pm.hook.bluezone_message_catalogues.get_hookimpls():
        try:
            found: Any = impl.function()
        except Exception as e:  # noqa: BLE001 - reported with the plugin's name
            problems.append(PluginProblem(f"plugin {impl.plugin_name!r}",
                                          str(_("bluezone_message_catalogues failed: {error}",
                                                error="{}: {}".format(type(e).__name__, e)))))
            continue
        for catalogue in list(found or []):
            if isinstance(catalogue, MessageCatalogue):
                register_catalogue(catalogue)
            else:
                problems.append(PluginProblem(f"plugin {impl.plugin_name!r}",
                                              str(_("bluezone_message_catalogues returned {value!r}, not a "
                                                    "bluezone.MessageCatalogue", value=catalogue))))
    return problems


def _essential_problems(result: PluginSet, inactive: Mapping[str, tuple[EntryPoint, str]],
                        authority_url: str | None, allow_missing: Iterable[str] = ()) -> list[PluginProblem]:
    """A scorer, an alert sink and a transport for the authority URL's scheme
    must stay: without them a phone matches nothing or warns nobody, silently.

    Only the alert sink may be done without, and only when the file says so
    (``allow_missing = ["alert sink"]``): alerts stay in the store and
    ``bluezone status`` shows them (the demo and some tests read them there)."""
    needed: list[tuple[str, Message]] = [(SCORER, _("a scorer for keys (bluezone_score_exposure_windows)"))]
    if ALERT_SINK not in allow_missing:
        needed.append((ALERT_SINK, _("an alert sink (bluezone_deliver_alert)")))
    if authority_url and "://" in authority_url:
        scheme = urlsplit(authority_url).scheme
        needed.append((f"{TRANSPORT}:{scheme}", _("a transport for the authority URL's {scheme}:// scheme "
                                                  "(bluezone_transports)", scheme=scheme)))
    have = {c for p in result.plugins if p.active for c in p.capabilities}
    problems: list[PluginProblem] = []
    offline: dict[str, tuple[str, ...]] | None = None
    for capability, described in needed:
        if capability in have:
            continue
        if offline is None:  # only now load inactive plugins, to name what was switched off
            offline = {}
            for name, (ep, _reason) in inactive.items():
                try:
                    offline[name] = _capabilities(ep.load())
                except Exception:  # noqa: BLE001 - it is disabled; its import error is not ours to report
                    offline[name] = ()
        providers = sorted(n for n, caps in offline.items() if capability in caps)
        if providers:
            reasons = {inactive[n][1] for n in providers}
            where = {DISABLED_BY_FILE: "[plugins] disabled", DISABLED_BY_ENV: ENV_DISABLE,
                     NOT_ENABLED: "[plugins] enabled"}
            location = " / ".join(sorted(where[r] for r in reasons))
            message = _n("no active plugin provides {what}: {names} provides it but is switched off; keep one on or "
                         "install a replacement",
                         "no active plugin provides {what}: {names} provide it but are switched off; keep one on or "
                         "install a replacement", len(providers), what=described,
                         names=", ".join(map(repr, providers)))
            if capability == ALERT_SINK:
                message = _("{problem} (or, to show alerts only through 'bluezone status', add allow_missing = "
                            "[\"{capability}\"] to [plugins])", problem=message, capability=ALERT_SINK)
            problems.append(PluginProblem(location, str(message), essential=True))
        elif capability.startswith(TRANSPORT):
            offered = sorted({c.split(":", 1)[1] for c in have if c.startswith(TRANSPORT + ":")})
            problems.append(PluginProblem("[authority] url", str(_(
                "no installed plugin provides {what}; schemes offered: {schemes}", what=described,
                schemes=", ".join(offered) or _("none"))), essential=True))
        else:
            problems.append(PluginProblem("[plugins]", str(_("no installed plugin provides {what}; install one",
                                                             what=described)), essential=True))
    return problems


def make_plugin_manager(
    disabled: Iterable[str] = (), enabled: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """A plugin manager for ``[plugins] disabled``/``enabled`` as given,
    ignoring the environment: for tools and tests that want a particular
    set, including one without essential capabilities (``enabled=[]``).

    It is :func:`plugin_set`'s manager; problems other than missing
    essentials (a plugin that fails to import or register, an unknown
    name) raise :class:`PluginError`."""
    section: dict[str, Any] = {"disabled": list(disabled)}
    if enabled is not None:
        section["enabled"] = list(enabled)
    built = plugin_set(section, environ={})
    serious = [p for p in built.problems if not p.essential]
    if serious:
        raise PluginError("\n".join(map(str, serious)))
    return built.pm


# --- the process's own set (the command line) -----------------------------------------


_PROCESS_SET: PluginSet | None = None


def deployment_path_from(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The deployment file a command line names (``--config PATH``,
    ``--config=PATH`` or ``$BLUEZONE_CONFIG``), read before click parses the
    arguments because plugin commands must be chosen before that."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return environ.get(ENV_CONFIG) or None


def process_plugin_set(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> PluginSet:
    """This process's plugin set, built once (on first use) by
    :func:`plugin_set` from the deployment file on the command line and the
    environment. A file that cannot be read or parsed counts as no file here:
    the command that loads it reports that problem with its location."""
    global _PROCESS_SET
    if _PROCESS_SET is None:
        argv = sys.argv[1:] if argv is None else argv
        environ = os.environ if environ is None else environ
        section: Mapping[str, Any] | None = None
        url: str | None = None
        path = deployment_path_from(argv, environ)
        if path:
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                data = {}
            section = data.get("plugins") if isinstance(data.get("plugins"), dict) else None
            _use_deployment_languages(data)
            authority = data.get("authority")
            url = authority.get("url") if isinstance(authority, dict) and isinstance(authority.get("url"), str) else None
        _PROCESS_SET = plugin_set(section, authority_url=url, environ=environ)
        _PROCESS_SET.source = Path(path).resolve() if path else None
    return _PROCESS_SET


def _use_deployment_languages(data: Mapping[str, Any]) -> None:
    """Texts with no person behind them (errors, refusals) are shown in the
    deployment's languages from the start of the command."""
    from .i18n import set_default_languages

    deployment = data.get("deployment")
    languages = deployment.get("languages") if isinstance(deployment, dict) else None
    if isinstance(languages, list) and languages and all(isinstance(x, str) for x in languages):
        set_default_languages(languages)


def shared_plugin_set(path: Path) -> PluginSet | None:
    """The process's set when it was built from this very deployment file, so
    ``load_config`` in a command reuses it instead of building a second one."""
    if _PROCESS_SET is not None and _PROCESS_SET.source is not None and _PROCESS_SET.source == path.resolve():
        return _PROCESS_SET
    return None


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Registered plugin names, sorted (blocked ones excluded)."""
    return sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)


def _flatten(results: list[Any]) -> list[Any]:
    return [r for r in results if r is not None]


async def _resolve(results: list[Any]) -> list[Any]:
    out = []
    for r in results:
        if inspect.isawaitable(r):
            r = await r
        out.append(r)
    return out


async def call_hook_async(hook: Any, **kwargs: Any) -> list[Any]:
    """Call a hook and await every result that is awaitable (the async convention)."""
    return _flatten(await _resolve(hook(**kwargs)))


def call_hook(hook: Any, **kwargs: Any) -> list[Any]:
    """Call a hook from synchronous code; awaitable results are run to completion.

    Inside a running event loop that is impossible (``asyncio.run`` would
    fail and the coroutines would never run): async code calls
    :func:`call_hook_async`, and this refuses with a message naming the hook."""
    results = hook(**kwargs)
    if any(inspect.isawaitable(r) for r in results):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            results = asyncio.run(_resolve(results))
        else:
            for r in results:
                if inspect.iscoroutine(r):
                    r.close()
            raise PluginError(f"{hook.name}: an implementation returned an awaitable, but the hook was called "
                              "from synchronous code inside a running event loop; call it with call_hook_async")
    return _flatten(results)


def collect_named(results: Iterable[Any], what: str) -> dict[str, Any]:
    """Merge hook results that are lists of named objects or name→object dicts.

    Two plugins offering the same name is a configuration error, reported
    rather than silently resolved by load order.
    """
    merged: dict[str, Any] = {}
    for result in results:
        items = result.items() if isinstance(result, dict) else ((obj.name, obj) for obj in result)
        for name, obj in items:
            if name in merged and merged[name] is not obj:
                raise PluginError(f"two plugins offer a {what} named {name!r}")
            merged[name] = obj
    return merged
