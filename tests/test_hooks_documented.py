"""Every hook in hookspecs.py has a docstring and a section in docs/hooks.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from bluezone import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "hooks.md"


def hook_names() -> list[str]:
    return [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("bluezone_")]


def test_every_hook_has_a_docstring():
    missing = [n for n in hook_names() if not (getattr(hookspecs, n).__doc__ or "").strip()]
    assert missing == []


def test_every_hook_is_documented_with_an_example():
    text = DOCS.read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    undocumented = [n for n in hook_names() if n not in sections]
    assert undocumented == [], f"add a '## name' section to docs/hooks.md for: {undocumented}"
    without_example = [n for n in hook_names() if "```python" not in sections[n]]
    assert without_example == []


def test_docs_list_no_hook_that_does_not_exist():
    text = DOCS.read_text()
    documented = re.findall(r"^## (bluezone_\w+)", text, flags=re.M)
    assert sorted(set(documented) - set(hook_names())) == []
