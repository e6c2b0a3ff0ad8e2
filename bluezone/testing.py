"""Helpers for testing plugins: a plugin installed the way pip leaves it.

A plugin is found through the ``bluezone`` entry-point group of an installed
distribution, so a test that wants the real discovery path (entry points,
versions, import errors named by distribution) needs a real ``.dist-info``
folder, not a hand-registered object. :func:`install_plugin` writes one into a
folder that the test puts on ``sys.path`` (``monkeypatch.syspath_prepend``).
Used by the core's, the authority's and plugins' own tests; not by the product.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["install_plugin"]


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
