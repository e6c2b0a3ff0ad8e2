"""Click commands speak the deployment's languages: our help texts (marked
with N_) and click's own words ("Usage:", "Missing option") go through the
catalogue; a help page is in one language, a usage error in all of them."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from bluezone import i18n
from bluezone.cli.i18n_click import Command, Group
from bluezone.i18n import N_, use_languages

HELP = N_("Record the weather at a venue.")
CODE_HELP = N_("The venue's code.")
PLAIN_HELP = N_("A command that is not a bluezone Command.")


@pytest.fixture
def catalogue(tmp_path, monkeypatch):
    """Vietnamese for this test's own texts, beside the core's (click's words are the core's)."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    messages = Catalog(locale="vi", domain="bluezone")
    for msgid, msgstr in {HELP: "Ghi thời tiết tại một địa điểm.", CODE_HELP: "Mã của địa điểm.",
                          PLAIN_HELP: "Một lệnh không phải Command của bluezone."}.items():
        messages.add(msgid, msgstr)
    out = tmp_path / "vi" / "LC_MESSAGES"
    out.mkdir(parents=True)
    with open(out / "bluezone.mo", "wb") as f:
        write_mo(f, messages)
    monkeypatch.setenv(i18n.ENV_LOCALE_DIRS, str(tmp_path))
    yield
    i18n._translations.clear()


def make_group() -> click.Group:
    @click.group(cls=Group)
    def top() -> None:
        pass

    @top.command("weather", help=HELP)
    @click.option("--code", required=True, help=CODE_HELP)
    @click.option("--count", type=click.IntRange(1, 5), default=1)
    def weather(code: str, count: int) -> None:
        click.echo(f"{code} {count}")

    top.add_command(click.Command("plain", help=PLAIN_HELP, callback=lambda: None))
    return top


def run(args: list[str]):
    with use_languages("vi", "en"):
        return CliRunner().invoke(make_group(), args, prog_name="bz")


def test_group_commands_get_the_translated_class():
    assert isinstance(make_group().commands["weather"], Command)


def test_a_help_page_is_in_the_first_language_only(catalogue):
    result = run(["weather", "--help"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("Cách dùng: bz weather [OPTIONS]")
    for shown in ("Ghi thời tiết tại một địa điểm.", "Tuỳ chọn:", "Mã của địa điểm.", "bắt buộc",
                  "Hiện hướng dẫn này rồi thoát."):
        assert shown in out, shown
    for english in ("Usage:", "Options:", "Record the weather", "The venue's code", "required", "Show this"):
        assert english not in out, english


def test_the_group_lists_even_a_plain_click_command_translated(catalogue):
    out = run(["--help"]).output
    assert "Lệnh:" in out and "Một lệnh không phải Command của bluezone." in out and "Ghi thời tiết" in out
    assert "A command that is not" not in out and "Commands:" not in out
    # the msgids stay in place: the next reader may have another language
    assert make_group().commands["plain"].help == PLAIN_HELP


def test_a_usage_error_is_shown_in_every_language(catalogue):
    result = run(["weather"])
    assert result.exit_code == 2
    *_, last = result.output.strip().splitlines()
    assert last == "Lỗi / Error: Thiếu tuỳ chọn / Missing option '--code'."
    assert "Cách dùng: bz weather [OPTIONS]" in result.output  # the usage line: one language
    assert "Chạy 'bz weather --help' để xem hướng dẫn. / Try 'bz weather --help' for help." in result.output


def test_a_nested_click_text_is_filled_in_each_language(catalogue):
    """'Invalid value for ...: 9 is not in the range ...' nests one click text
    in another: each language's sentence holds its own language's words."""
    result = run(["weather", "--code", "A", "--count", "9"])
    last = result.output.strip().splitlines()[-1]
    assert last == ("Lỗi / Error: Giá trị không hợp lệ cho '--count': 9 không nằm trong khoảng 1<=x<=5. / "
                    "Invalid value for '--count': 9 is not in the range 1<=x<=5.")


def test_an_unknown_command_and_english_only(catalogue):
    with use_languages("en"):
        result = CliRunner().invoke(make_group(), ["wether"], prog_name="bz")
    assert result.output.strip().splitlines()[-1] == "Error: No such command 'wether'. Did you mean 'weather'?"
