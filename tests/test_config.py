"""Deployment configuration: loading, defaults, and problems reported with their location."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bluezone.config import ConfigError, config_from_dict, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gia-lai.toml"
BLUEZONE = str(Path(sys.executable).with_name("bluezone"))

MINIMAL = """
[deployment]
name = "Test province"
region = "452"

[authority]
url = "https://authority.example"
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "deployment.toml"
    path.write_text(text)
    return path


@pytest.mark.needs_plugins  # the example is a whole deployment, with the venue check-in plugin's section
def test_example_deployment_is_valid():
    config = load_config(EXAMPLE)
    assert config.name == "Gia Lai" and config.region == "452"
    assert config.schedule().name == "gaen"
    assert config.retention_days == 14


def test_defaults_are_filled(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.languages == ["vi", "en"]
    assert config.schedule_name == "gaen"
    assert config.risk["attenuation_thresholds_db"] == [58, 63, 68]
    assert config.risk["minimum_minutes_per_day"] == 15


def test_every_problem_is_reported_with_location(tmp_path):
    text = MINIMAL + """
[retention]
days = "fourteen"
weeks = 2

[risk]
attenuation_thresholds_db = [50, 70, "ninety"]

[colour]
theme = "blue"
"""
    text = text.replace('region = "452"\n', "")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    problems = {p.location: p for p in info.value.problems}
    assert "missing value" in problems["[deployment]"].message and "region" in problems["[deployment]"].message
    assert "wrong type" in problems["[retention] days"].message
    assert problems["[retention] days"].line == 9
    assert "unknown key 'weeks'" in problems["[retention]"].message
    assert problems["[retention]"].line == 10
    assert "[risk] attenuation_thresholds_db[2]" in problems
    assert "unknown section" in problems["[colour]"].message and problems["[colour]"].line == 15


@pytest.mark.parametrize("table, given, left_out", [
    ("report_type_weights", "{ confirmed_test = 1.0, confirmed_clinical_diagnosis = 1.0, self_report = 0.0 }",
     "recursive"),
    ("bucket_weights", "{ immediate = 1.0, near = 1.0 }", "medium"),
    ("infectiousness_weights", "{ high = 2.0 }", "standard"),
])
def test_a_weight_table_given_in_part_is_refused_naming_what_it_leaves_out(tmp_path, table, given, left_out):
    """A key left out of a weight table would weigh nothing: leaving
    ``recursive`` out of ``report_type_weights`` would silently stop every F2
    warning. A table is given whole, or left out for its defaults."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MINIMAL + f"\n[risk]\n{table} = {given}\n"))
    problems = info.value.problems
    assert {(p.location, p.line) for p in problems} == {(f"[risk] {table}", 10)}
    assert any("missing value" in p.message and left_out in p.message for p in problems)


def test_unknown_schedule_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="unknown key schedule 'rot13'"):
        load_config(write(tmp_path, MINIMAL + '\n[schedule]\nname = "rot13"\n'))


def test_invalid_toml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MINIMAL + "\n[risk\n"))
    assert info.value.problems[0].line == 9


def test_dict_config_is_validated_too():
    with pytest.raises(ConfigError):
        config_from_dict({"deployment": {"name": "x"}})


def test_config_check_command(tmp_path):
    ok = subprocess.run([BLUEZONE, "config", "check", str(write(tmp_path, MINIMAL))], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = write(tmp_path, MINIMAL + "\n[retention]\ndays = -1\n")
    out = subprocess.run([BLUEZONE, "config", "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{bad}:10: [retention] days:" in out.stderr and f"1 problem found in {bad}." in out.stderr


def test_config_check_lists_plugin_problems_with_the_others(tmp_path):
    text = MINIMAL.replace('[authority]', '[plugins]\ndisabled = ["risk-gaen", "no-such-plugin"]\n\n[authority]')
    path = write(tmp_path, text + '\n[retention]\ndays = "fourteen"\n')
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    # each problem is one line, in both deployment languages (Vietnamese first, then " / " English)
    at = {prefix: [line for line in lines if line.startswith(prefix)]
          for prefix in (f"{path}:7: [plugins] disabled: ", f"{path}:13: [retention] days: ")}
    assert any("/ unknown plugin 'no-such-plugin'" in line for line in at[f"{path}:7: [plugins] disabled: "])
    assert any("/ no active plugin provides a scorer" in line for line in at[f"{path}:7: [plugins] disabled: "])
    assert any("/ wrong type" in line and "sai kiểu" in line for line in at[f"{path}:13: [retention] days: "])
    assert lines[-1] == f"Tìm thấy 3 lỗi trong {path}. / 3 problems found in {path}."


def test_config_check_refuses_an_unknown_time_zone_once(tmp_path):
    """Every date a person reads is shown in the deployment's zone: a name the
    system does not know is reported by 'config check' (once), not at the first alert."""
    path = tmp_path / "d.toml"
    path.write_text('[deployment]\nname = "T"\nregion = "452"\ntimezone = "Mars/Olympus"\n\n'
                    '[authority]\nurl = "https://a.example"\n')
    out = subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("unknown time zone 'Mars/Olympus'") == 1, out.stderr
    path.write_text(path.read_text().replace("Mars/Olympus", "Asia/Ho_Chi_Minh"))
    assert subprocess.run([BLUEZONE, "config", "check", str(path)], capture_output=True).returncode == 0
