"""Helpers for testing plugins: a plugin installed the way pip leaves it.

A plugin is found through the ``bluezone`` entry-point group of an installed
distribution, so a test that wants the real discovery path (entry points,
versions, import errors named by distribution) needs a real ``.dist-info``
folder, not a hand-registered object. :func:`install_plugin` writes one into a
folder that the test puts on ``sys.path`` (``monkeypatch.syspath_prepend``).
Used by the core's, the authority's and plugins' own tests; not by the product.
:func:`load_documented_example` runs a hook's example from docs/hooks.md as a
plugin, so the documentation cannot drift from the contract.
:func:`pseudo_locale` builds the ``qps`` pseudo-locale from every installed
distribution's catalogue template, for the pseudo-locale tests.
:func:`free_port` hands out a loopback port that no other process using it
can be handed until this one exits.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["documented_example", "free_port", "install_plugin", "load_documented_example", "pseudo_locale"]

#: Open lock files of the ports this process reserved, held until it exits.
_RESERVED: dict[int, int] = {}


def port_reservations() -> Path:
    """The folder of port reservations shared by every process of this user."""
    folder = Path(tempfile.gettempdir()) / f"bluezone-ports-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def free_port() -> int:
    """A TCP port on 127.0.0.1, free now and reserved for this process.

    Asking the kernel for port 0 and releasing it leaves a gap before the
    server binds the port, and another test process (the CI lanes run side
    by side) can be handed the same number in that gap: its phones then
    sync against the wrong server. So the port is also locked (``flock`` on
    a file named after it) for the rest of this process's life, and a port
    locked by any process, this one included, is never handed out again.
    The kernel drops the locks when the process ends, however it ends.
    """
    folder = port_reservations()
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port in _RESERVED:
            continue
        fd = os.open(folder / str(port), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # another process holds it: ask the kernel again
            continue
        _RESERVED[port] = fd
        return port
    raise RuntimeError(f"no loopback port could be reserved in {folder}")

#: The first-party distributions' packages whose ``locale/*.pot`` a pseudo-locale covers (when installed).
FIRST_PARTY_PACKAGES = ("bluezone_authority", "bluezone_qr_checkin", "bluezone_ble", "bluezone_demo")


def pseudo_locale(folder: Path) -> Path:
    """Compile the ``qps`` catalogues of the core's and every installed
    first-party distribution's template into ``folder`` and return it (point
    ``$BLUEZONE_LOCALE_DIRS`` at it): a command run in ``qps`` then shows
    every text that went through any catalogue in brackets."""
    import importlib

    from .i18n import CORE_DOMAIN
    from .i18n.pseudo import write_pseudo_catalogues

    templates = [(CORE_DOMAIN, Path(__file__).parent / "i18n" / "locale" / f"{CORE_DOMAIN}.pot")]
    for package in FIRST_PARTY_PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            continue
        templates += [(pot.stem, pot) for pot in sorted((Path(module.__file__ or "").parent / "locale").glob("*.pot"))]
    return write_pseudo_catalogues(templates, folder)


def install_plugin(site: Path, dist: str, entry_point: str, source: str, *, version: str = "0.1",
                   files: dict[str, str] | None = None) -> Path:
    """Install distribution ``dist`` into folder ``site``: one package (``dist``
    with ``-`` as ``_``) whose ``__init__.py`` is ``source`` (dedented), extra
    package ``files`` (relative path -> text), and metadata whose ``bluezone``
    entry point ``entry_point`` names the package. Returns the package folder."""
    module = dist.replace("-", "_")
    package = site / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(source))
    for relative, text in (files or {}).items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[bluezone]\n{entry_point} = {module}\n")
    return package


def documented_example(docs: Path, hook: str) -> str:
    """The one ``python`` code block under ``## hook`` in a hooks page (docs/hooks.md)."""
    import re

    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", docs.read_text(), flags=re.M | re.S))
    blocks = re.findall(r"```python\n(.*?)```", sections[hook], flags=re.S)
    if len(blocks) != 1:
        raise AssertionError(f"{hook}: expected one python example in {docs.name}, found {len(blocks)}")
    return blocks[0]


def load_documented_example(docs: Path, hook: str) -> tuple[Any, Any]:
    """``hook``'s documented example as a module, registered alone on a real
    plugin manager (so its hook name, argument names and sync/async kind are
    checked as for any plugin). Returns ``(module, plugin_manager)``."""
    import types

    from .plugins import BluezonePluginManager

    module = types.ModuleType(f"hooks_md_{hook}")
    module.__file__ = str(docs)  # examples may name files beside their module
    exec(compile(documented_example(docs, hook), f"{docs.name}#{hook}", "exec"), module.__dict__)
    pm = BluezonePluginManager()
    pm.register(module, f"example-{hook}")
    pm.check_pending()
    registered = [c.name for c in pm.get_hookcallers(module) or []]
    if registered != [hook]:
        raise AssertionError(f"{hook}: the example implements {registered}")
    return module, pm


def catalogue_missing_from_wheel(project: Path, localedir_in_wheel: str, domain: str, out: Path,
                                 languages: tuple[str, ...] = ("vi",)) -> list[str]:
    """Build the wheel of the distribution in ``project`` (no network, no
    dependencies) into ``out`` and return which of the domain's catalogue
    files it lacks: the template and, per language, the ``.po`` and the
    compiled ``.mo``. ``[]`` means an installed (not editable) copy speaks
    those languages. ``localedir_in_wheel``: e.g. ``bluezone_ble/locale``."""
    import shutil
    import subprocess
    import sys
    import zipfile

    # built from a copy: setuptools writes build/ and *.egg-info beside the
    # sources, which other tests (and other CI lanes, running at the same
    # time) would otherwise find in the tree
    source = out / "source"
    shutil.copytree(project, source, ignore=shutil.ignore_patterns(
        ".*", "build", "dist", "*.egg-info", "__pycache__", "tests", "plugins", "authority", "benchmarks", "docs",
        "examples"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "--no-index", str(source), "-w", str(out)], capture_output=True, text=True, timeout=300)
    if built.returncode != 0:
        raise AssertionError(f"pip wheel {project} failed: {built.stderr}")
    [wheel] = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [f"{localedir_in_wheel}/{domain}.pot"] + [
        f"{localedir_in_wheel}/{lang}/LC_MESSAGES/{domain}.{ext}" for lang in languages for ext in ("po", "mo")]
    return [name for name in wanted if name not in names]
