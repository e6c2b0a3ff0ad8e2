"""`make mutate`'s set-up cannot drift from the code and the record it feeds.

`make mutate` is not run in CI (one pytest process per mutant), so nothing
else would notice a test file renamed out of a module's list, a module whose
annotations would be evaluated (its annotation mutants could no longer be
skipped), or a module mutated without its score and survivors recorded.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_runner():
    spec = importlib.util.spec_from_file_location("mutation_run", ROOT / "mutation" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


MODULES: dict[str, list[str]] = load_runner().MODULES


def short(module: str) -> str:
    """How docs/testing.md names a module: without its package folder."""
    return re.sub(r"^(authority/bluezone_authority|bluezone)/", "", module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_mutated_module_and_its_tests_exist(module):
    assert (ROOT / module).is_file()
    assert "from __future__ import annotations" in (ROOT / module).read_text()
    missing = [t for t in MODULES[module] if not (ROOT / t).is_file()]
    assert not missing, f"{module}: test files gone: {missing}"
    assert len(set(MODULES[module])) == len(MODULES[module])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_mutated_module_has_its_score_and_its_survivors_recorded(module):
    testing = (ROOT / "docs" / "testing.md").read_text()
    rows = [line for line in testing.splitlines() if line.startswith(f"| `{short(module)}` |")]
    assert len(rows) == 1, f"docs/testing.md: one score row for {module}"
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    killed, survived, score = int(cells[5]), int(cells[6].split()[0]), cells[8]
    assert score == f"{round(100 * killed / (killed + survived))} %"
    survivors = (ROOT / "mutation" / "survivors.md").read_text()
    heading = re.search(rf"^## `{re.escape(module)}` \((\d+)\)$", survivors, re.M)
    assert heading, f"mutation/survivors.md: no section for {module}"
    assert int(heading.group(1)) == survived
