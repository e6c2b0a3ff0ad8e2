"""The plugin manager: discovery, disabling, and calling hooks.

Plugins are found only through the ``bluezone`` entry-point group; the core
never imports a plugin by name. A deployment disables plugins by entry-point
name with ``[plugins] disabled = [...]`` in its TOML (or only loads the ones
listed in ``enabled``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from typing import Any

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "bluezone"


class PluginError(Exception):
    """A plugin could not be found, loaded or used."""


def make_plugin_manager(
    disabled: Iterable[str] = (), enabled: Iterable[str] | None = None
) -> pluggy.PluginManager:
    """A fresh plugin manager with every installed plugin registered, except
    the ``disabled`` ones (or, when ``enabled`` is given, all but those)."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    wanted = set(enabled) if enabled is not None else None
    for name in disabled:
        pm.set_blocked(name)
    if wanted is not None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name not in wanted:
                pm.set_blocked(ep.name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm


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
