"""`make mutate`: mutation testing of the modules where a silent bug warns the
wrong people or loses data, each against only the tests that are about it.

Why cosmic-ray and not mutmut: cosmic-ray mutates one file on disk and runs an
ordinary test command per mutant, so it works unchanged with this layout
(three top-level packages installed editable, tests that start the ``bluezone``
command as a subprocess, ``--import-mode=importlib``); mutmut 3 rewrites every
function into a trampoline inside its own ``mutants/`` copy and selects tests
from its own statistics run, which neither subprocesses nor the editable
finders see. Each module is mutated in a throw-away copy of the work tree
(``PYTHONPATH`` puts the copy ahead of the editable install), so an
interrupted run never leaves a mutant in your files.

Not in CI: it runs one pytest process per mutant. ``--budget`` caps the whole
run; a module cut short is reported as partial. Scores go in docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = [".", "authority", "plugins/qr_checkin", "plugins/ble", "plugins/demo"]

#: module → the test files that are about it (kept small so a module takes minutes).
MODULES: dict[str, list[str]] = {
    "bluezone/declarations/sealing.py": ["tests/test_declaration_sealing.py"],
    "bluezone/matching/risk.py": ["tests/test_risk.py", "tests/test_risk_cwa.py", "tests/test_alerts_low.py"],
    "bluezone/matching/risk_model.py": ["tests/test_risk_model.py", "tests/test_risk_cwa.py"],
    # the default scoring's series estimators (Kalman, median, quantile): which seconds count as close
    "bluezone/matching/estimators.py": ["tests/test_estimators.py", "tests/test_risk.py"],
    "bluezone/matching/index.py": ["tests/test_match_index_edges.py", "tests/test_match_index.py", "tests/test_match.py"],
    "bluezone/matching/derive.py": ["tests/test_match_dp3t_days.py", "tests/test_match.py"],
    "bluezone/matching/matcher.py": ["tests/test_match.py"],
    "bluezone/matching/once.py": ["tests/test_match_once.py", "tests/test_sync.py", "tests/test_sync_replays.py"],
    "bluezone/matching/windows.py": ["tests/test_windows_edges.py", "tests/test_sync.py", "tests/test_pipeline.py"],
    "bluezone/matching/pipeline.py": ["tests/test_sync.py", "tests/test_pipeline.py"],
    "bluezone/matching/explain.py": ["tests/test_why_closeness.py"],
    "bluezone/matching/alerts.py": ["tests/test_alerts.py", "tests/test_alerts_low.py"],
    "bluezone/matching/revisions.py": ["tests/test_revisions_phone.py"],
    # test_sync.py (6 s) and test_feeds.py (the feed contract, 4 s): the replay and
    # hostile-mirror files take 35 s and 20 s per mutant, which would make this module
    # hours long; run them by hand on a survivor.
    "bluezone/sync.py": ["tests/test_sync.py", "tests/test_feeds.py"],
    "bluezone/store/purging.py": ["tests/test_store.py", "tests/test_store_deletion.py"],
    # Not test_store_refusals.py: it runs the ``bluezone`` command in subprocesses (130-190 s
    # a run, so a mutant would cost minutes); a survivor is checked against it by hand.
    # The store's own files first, then the callers that read what it saved: the index
    # (hits by row id), the sealed key check, alert and window rows (alerts, revisions),
    # plugin-owned tables; test_sync.py last (3 s, the slowest).
    "bluezone/store/device.py": ["tests/test_store.py", "tests/test_store_deletion.py", "tests/test_store_records.py",
                                 "tests/test_store_contract.py", "tests/test_match_index.py",
                                 "tests/test_store_encryption.py", "tests/test_alerts.py",
                                 "tests/test_revisions_phone.py", "tests/test_plugin_owned_store.py",
                                 "tests/test_store_crash.py", "tests/test_sync.py"],
    "bluezone/store/encryption.py": ["tests/test_store_encryption.py"],
    # The key file (a lost or swapped key loses the store) and the schema steps (a bad step loses rows).
    "bluezone/store/secrets.py": ["tests/test_store_key_file.py", "tests/test_store_encryption.py", "tests/test_store.py"],
    "bluezone/store/migrations.py": ["tests/test_store_schema.py", "tests/test_plugin_owned_store.py",
                                     "tests/test_store.py", "tests/test_store_deletion.py"],
    # Fastest and most pointed first: pytest runs -x, so a mutant is killed by the first
    # failing file. Measured on SQLite alone (see run_module): code_edges 1.4 s,
    # publish_limits 1.4 s, server_flow 1.8 s, server_bad_input 2.3 s, revisions 1.4 s.
    "authority/bluezone_authority/server/codes.py": ["authority/tests/test_code_edges.py",
                                                     "authority/tests/test_server_flow.py",
                                                     "authority/tests/test_server_bad_input.py"],
    "authority/bluezone_authority/server/publish.py": ["authority/tests/test_publish_limits.py",
                                                       "authority/tests/test_server_flow.py",
                                                       "authority/tests/test_server_revisions.py",
                                                       "authority/tests/test_server_export_dir.py"],
}


@dataclass
class Score:
    module: str
    killed: int = 0
    survived: int = 0
    other: int = 0  # incompetent (the mutant does not import) or timed out
    pending: int = 0
    excluded: int = 0  # mutants of annotations only (see ``annotation_spans``), never run
    seconds: float = 0.0
    survivors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        judged = self.killed + self.survived
        return self.killed / judged if judged else None

    def row(self) -> str:
        pct = f"{100 * self.score:.0f} %" if self.score is not None else "–"
        partial = f" (partial: {self.pending} not run)" if self.pending else ""
        return (f"| `{self.module}` | {self.killed + self.survived + self.other + self.pending} | {self.excluded} "
                f"| {self.killed} | {self.survived} | {self.other} | {pct}{partial} | {self.seconds / 60:.0f} min |")


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) of every annotation in ``source`` (line 1-based, column 0-based).

    Why they are not mutated: every module of this run starts with ``from
    __future__ import annotations``, so an annotation is kept as a string and
    never evaluated; a mutant of one (``int | None`` → ``int + None``) cannot
    change what the code does, and last session's runs spent a third of their
    time on them. ``main`` refuses a module without that import."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.returns)
        elif isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for ann in found:
            if ann is not None and ann.end_lineno is not None and ann.end_col_offset is not None:
                spans.append(((ann.lineno, ann.col_offset), (ann.end_lineno, ann.end_col_offset)))
    return spans


def skip_annotation_mutants(session: Path, module: Path) -> int:
    """Mark the mutants that lie wholly inside an annotation as skipped; how many."""
    from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
    from cosmic_ray.work_item import WorkerOutcome, WorkResult  # type: ignore[import-untyped]

    spans = annotation_spans(module.read_text())
    skipped = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            if all(any(lo <= tuple(m.start_pos) and tuple(m.end_pos) <= hi for lo, hi in spans)
                   for m in item.mutations):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED,
                                                      output="annotation only: never evaluated"))
                skipped += 1
    return skipped


def copy_tree(dest: Path) -> None:
    """The tracked files as they are in the work tree (uncommitted edits included)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        src = ROOT / raw.decode()
        if src.is_file():
            (dest / raw.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / raw.decode())


def session_files(keep: Path, module: str) -> tuple[Path, Path]:
    """Where a module's cosmic-ray session and the source it was made from are kept."""
    name = module.replace("/", "_")
    return keep / f"{name}.sqlite", keep / f"{name}.source"


def reopen_survivors(session: Path) -> None:
    """Forget the survivors' results so ``exec`` judges them again (with the
    tests as they are now); killed and skipped mutants keep theirs. Sound
    because tests are only ever added between the runs: a mutant a test
    killed is still killed. Mutants left pending by a budget run too."""
    import sqlite3

    conn = sqlite3.connect(session)
    with conn:
        conn.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
    conn.close()


def run_module(module: str, tests: list[str], *, timeout: float, deadline: float, keep: Path,
               rejudge: bool = False) -> Score:
    score = Score(module)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bz-mutate-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        # BLUEZONE_TEST_DATABASE=sqlite: the server tests run once, on SQLite, not
        # once per backend; cosmic-ray never mutates the SQL text (string literals),
        # and codes.py and publish.py have no branch on the backend.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(work / d) for d in PACKAGE_DIRS),
                   BLUEZONE_KEY_DIR=str(work / ".keys"), BLUEZONE_TEST_DATABASE="sqlite")
        command = " ".join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests])
        (work / "cr.toml").write_text(
            "[cosmic-ray]\n"
            f'module-path = "{module}"\n'
            f"timeout = {timeout}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(command)}\n"
            "[cosmic-ray.distributor]\nname = \"local\"\n")
        cr = [sys.executable, "-m", "cosmic_ray.cli"]
        saved, source = session_files(keep, module)
        # Read now, not after ``exec``: a budget that stops ``exec`` mid-mutant leaves
        # that mutant applied in the copy, and saving it would make the next --rejudge
        # refuse (or, worse, compare against a mutant).
        original = (work / module).read_text()
        if rejudge and saved.exists():
            if source.read_text() != original:
                raise SystemExit(f"{module} changed since its saved session: run it afresh (without --rejudge)")
            shutil.copy2(saved, work / "session.sqlite")
            reopen_survivors(work / "session.sqlite")
        else:
            subprocess.run([*cr, "init", "cr.toml", "session.sqlite"], cwd=work, env=env, check=True)
            skip_annotation_mutants(work / "session.sqlite", work / module)
        base = subprocess.run([*cr, "baseline", "cr.toml"], cwd=work, env=env, capture_output=True, text=True)
        if base.returncode != 0:
            raise SystemExit(f"{module}: the tests fail without any mutant; fix them first\n{base.stdout}{base.stderr}")
        left = deadline - time.monotonic()
        if left > 0:
            try:
                subprocess.run([*cr, "exec", "cr.toml", "session.sqlite"], cwd=work, env=env, timeout=left)
            except subprocess.TimeoutExpired:
                pass
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy2(work / "session.sqlite", saved)
        source.write_text(original)
        dump = subprocess.run([*cr, "dump", "session.sqlite"], cwd=work, env=env, capture_output=True, text=True,
                              check=True).stdout
        for line in dump.splitlines():
            item, result = json.loads(line)
            if result is None:
                score.pending += 1
                continue
            outcome = result.get("test_outcome")
            if result.get("worker_outcome") == "skipped":
                score.excluded += 1
            elif outcome == "killed":
                score.killed += 1
            elif outcome == "survived":
                score.survived += 1
                where = ", ".join(f"{m['operator_name']} at line {m['start_pos'][0]}" for m in item["mutations"])
                score.survivors.append(f"# {item['job_id']}: {where}\n{result.get('diff') or ''}")
            else:
                score.other += 1
    score.seconds = time.monotonic() - started
    keep.mkdir(parents=True, exist_ok=True)
    (keep / (module.replace("/", "_") + ".survivors.diff")).write_text("\n".join(score.survivors))
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths (default: all, smallest first)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one mutant's tests may take")
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds for the whole run")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "mutation",
                        help="survivors' diffs and each module's session go here")
    parser.add_argument("--rejudge", action="store_true",
                        help="continue each module's saved session: run its pending mutants and judge its "
                             "survivors again against the current tests (for after new tests are written)")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        raise SystemExit(f"not a module of this run: {', '.join(unknown)} (choose from: {', '.join(MODULES)})")
    lazy = [m for m in args.modules or MODULES if "from __future__ import annotations" not in (ROOT / m).read_text()]
    if lazy:
        raise SystemExit(f"annotations are evaluated in {', '.join(lazy)}: their mutants cannot be skipped there")
    chosen = args.modules or sorted(MODULES, key=lambda m: (ROOT / m).stat().st_size)
    deadline = time.monotonic() + args.budget
    print("| module | mutants | excluded (annotations) | killed | survived | incompetent / timeout | score | took |")
    print("|---|---|---|---|---|---|---|---|")
    for module in chosen:
        if time.monotonic() >= deadline:
            print(f"| `{module}` | not run: budget spent | | | | | | |")
            continue
        print(run_module(module, MODULES[module], timeout=args.timeout, deadline=deadline, keep=args.out,
                         rejudge=args.rejudge).row(),
              flush=True)
    print(f"\nsurviving mutants' diffs: {args.out}")


if __name__ == "__main__":
    main()
