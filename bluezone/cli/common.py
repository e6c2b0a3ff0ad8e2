"""Helpers shared by the command modules."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import click

from ..config import Config, ConfigError, Problem, load_config
from ..i18n import N_, Message, _, _n, text


def error_line(message: "str | Message", lang: str | None = None) -> str:
    """``Error: message`` with the word "Error" in each deployment language
    (``Lỗi / Error: ...``); a Message is shown in the same languages. With
    ``lang`` (a phone whose person chose a language), in that language alone."""
    word = _("Error")  # not an f-string: extraction must see _()
    return "{}: {}".format(text(word, lang) if lang else word, message)


def fail(message: "str | Message", code: int = 2, lang: str | None = None) -> NoReturn:
    """Print a one-line error a person can act on, and exit.

    The message often carries other people's words (a server's or mirror's
    error text, a file name), so control, bidi and zero-width characters are
    shown as visible escapes (:func:`bluezone.textsafe.safe_terminal_text`):
    the line stays one line and cannot drive the terminal."""
    from ..textsafe import safe_terminal_text

    shown = text(message, lang) if lang and isinstance(message, Message) else str(message)
    click.echo(error_line(safe_terminal_text(shown), lang), err=True)
    sys.exit(code)


def load_config_or_fail(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        fail(problems_line(e.problems, path))


def problems_line(problems: "list[Problem]", path: str) -> Message:
    """One line for a file a command cannot use: the first problem, where it is,
    and how to see them all (a person using a command did not write the file and
    needs no list). Also for other kinds of file (``bluezone gateway --config``)."""
    first = problems[0].format(path) if problems else path
    return _n("{problem} ({n} problem in {path}; run 'bluezone config check {path}' for details)",
              "{problem} ({n} problems in {path}; run 'bluezone config check {path}' for details)",
              len(problems), problem=first, path=path)


config_option = click.option(
    "--config", "config_path", envvar="BLUEZONE_CONFIG", required=True, type=click.Path(dir_okay=False),
    help=N_("Deployment TOML file (or $BLUEZONE_CONFIG)."),
)


def open_store_or_fail(path: str, retention_days: int = 14, **kw: Any) -> Any:
    """Open an existing device store for a command other than ``init``.

    Never creates a store or its key (only ``bluezone init`` does): a missing
    store, a missing key file, a damaged or newer file all end the command
    with one line saying what to do, and leave the file as it was."""
    from ..store import DeviceStore

    with store_errors(path):
        return DeviceStore(path, retention_days=retention_days, create=False, **kw)


@contextlib.contextmanager
def store_errors(path: Any = "the device store") -> Iterator[None]:
    """Turn the store's refusals, and damage SQLite finds while a command
    reads or writes, into one line and exit code 2 (no traceback)."""
    from ..store import StoreError, StoreKeyError
    from ..store.engine import DatabaseError
    from ..store.errors import from_sqlite

    try:
        yield
    except (StoreError, StoreKeyError) as e:
        fail(str(e))
    except DatabaseError as e:
        fail(str(from_sqlite(path, e)))


def with_store_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click command (under its click decorators) so a store that
    turns out damaged while the command runs ends it with one line naming
    ``--store`` (the ``store_path`` parameter), not a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with store_errors(kwargs.get("store_path") or "the device store"):
            return command(*args, **kwargs)

    return run
