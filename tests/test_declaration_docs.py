"""docs/declarations.md stays true: every field of the form is documented and
the example configuration passes ``bluezone config check``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bluezone.declarations.ncovi_form import ncovi_form

DOC = Path(__file__).resolve().parent.parent / "docs" / "declarations.md"
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))


def test_every_field_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [f.id for f in ncovi_form().fields if f.id not in text]
    assert missing == []


def test_the_documented_configuration_is_valid(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.S) if "[declarations]" in b]
    path = tmp_path / "d.toml"
    path.write_text('[deployment]\nname = "T"\nregion = "452"\n[authority]\nurl = "https://x.example.vn"\n'
                    'declaration_public_key = "/+AcjFyNk0xiX1aRppvw9p6lng19Eie/lfE2meofYF4="\n' + block)
    p = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    path.write_text(path.read_text().replace("attempts = 4", "attempts = 0"))
    p = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "[declarations] ncovi.attempts" in p.stderr
