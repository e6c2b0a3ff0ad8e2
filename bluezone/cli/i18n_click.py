"""Click commands that speak the deployment's languages.

Two kinds of text appear on a command's help page and in its usage errors:

* **Ours**: a command's help, its options' help, an epilog. Write them with
  ``help=N_("...")`` (extraction sees them; they stay plain strings) and give
  the command ``cls=Command`` (or the group ``cls=Group``): the classes here
  translate them when the help is shown, not when the module is imported --
  the deployment's languages are known only once the command line is read.
* **Click's own** ("Usage:", "Options:", "Missing option '--store'.", "No such
  command 'x'.", ...). Click looks them up with the standard library's
  ``gettext.gettext``, bound in each of its modules as ``_`` (and
  ``ngettext``) at import time, which consults the process-wide gettext
  domain and the ``LANGUAGE`` environment variable -- neither is how
  Bluezone chooses languages. :func:`install_click_translations` rebinds
  those module-level names to Bluezone's catalogue (click documents no
  other hook; see pallets/click#2706), and the core's catalogue carries
  click's texts (:mod:`bluezone.cli.click_texts`).

Which languages: a help page is read by the person at the keyboard, so it is
in ONE language, the deployment's first (:data:`help_languages`). A usage
error has no device behind it yet, so it is shown like every other error
line, in all the deployment's languages: ``Lỗi / Error: Thiếu tuỳ chọn
'--store'. / Missing option '--store'.``

Plugins and the authority use the same classes for their commands::

    from bluezone.cli.i18n_click import Command
    from bluezone.i18n import N_

    @click.command("checkin", cls=Command, help=N_("Check in at a venue."))
    @click.option("--code", help=N_("The venue's code."))
    def checkin(code): ...

A command added to a :class:`Group` without the class still has its short
help translated in the group's command list.
"""

from __future__ import annotations

import contextlib
import gettext as _stdlib_gettext
import importlib
from collections.abc import Iterable, Iterator
from typing import Any, Callable

import click

from ..i18n import N_, SOURCE_LANGUAGE, Message, active_languages, gettext, ngettext, text, use_languages

__all__ = ["Command", "Group", "help_languages", "install_click_translations", "translated_command_class"]

#: The attributes of a command or parameter that hold our own help texts.
_HELP_ATTRIBUTES = ("help", "short_help", "epilog")
#: Click's modules that bind ``_``/``ngettext`` from the stdlib gettext at import.
#: ``--help``'s own help (click looks it up once, when the command is first parsed, and cleans it into a plain str).
HELP_OPTION_HELP = N_("Show this message and exit.")
_CLICK_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types", "utils")


class _ClickText(str):
    """One of click's texts, shown in the active languages (" / " between).

    Click formats its texts after looking them up (``_("No such option
    {name!r}.").format(name=...)``, or ``%``); formatting is done per
    language, so a field that is itself a click text (a ``Path``'s "file")
    is filled in each language's own words instead of repeating all of
    them inside each language's sentence."""

    _template: Callable[[str], str]

    def __new__(cls, template: Callable[[str], str], languages: Iterable[str] | None = None) -> _ClickText:
        langs = tuple(active_languages() if languages is None else languages)
        shown: list[str] = []
        for lang in langs:
            piece = template(lang)
            if piece not in shown:
                shown.append(piece)
        obj = super().__new__(cls, " / ".join(shown))
        obj._template = template
        return obj

    def part(self, language: str) -> str:
        """This text in one language."""
        return self._template(language)

    def format(self, *args: Any, **kwargs: Any) -> _ClickText:
        def template(lang: str) -> str:
            fields = {k: _in(v, lang) for k, v in kwargs.items()}
            values = [_in(a, lang) for a in args]
            try:
                return self._template(lang).format(*values, **fields)
            except (KeyError, IndexError, ValueError):  # a broken translation: click's English
                return self._template(SOURCE_LANGUAGE).format(*values, **fields)

        return _ClickText(template)

    # Click shows a type's name as a metavar ("FILE") or a title ("File 'x' does not
    # exist."); the name was looked up once, at import: change its case per language, now.
    def upper(self) -> _ClickText:
        return _ClickText(lambda lang: self._template(lang).upper())

    def title(self) -> _ClickText:
        return _ClickText(lambda lang: self._template(lang).title())

    def capitalize(self) -> _ClickText:
        return _ClickText(lambda lang: self._template(lang).capitalize())

    def __mod__(self, values: Any) -> _ClickText:
        def template(lang: str) -> str:
            try:
                return self._template(lang) % values
            except (KeyError, TypeError, ValueError):
                return self._template(SOURCE_LANGUAGE) % values

        return _ClickText(template)


def _in(value: Any, language: str) -> Any:
    if isinstance(value, _ClickText):
        return value.part(language)
    if isinstance(value, Message):
        return value.text(language)
    return value


class _ErrorLine(str):
    """Click's ``"Error: {message}"``: the same ``Lỗi / Error: ...`` prefix
    as every other error line (:func:`bluezone.cli.common.error_line`)."""

    def format(self, *args: Any, **kwargs: Any) -> str:
        from .common import error_line

        return error_line(str(kwargs.get("message", args[0] if args else "")))


def _click_gettext(msgid: str) -> str:
    if msgid == "Error: {message}":
        return _ErrorLine(msgid)
    if isinstance(msgid, _ClickText):  # click re-looking up a text it already has (help of a decorator)
        return msgid
    return _ClickText(lambda lang: gettext(msgid, lang))


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return _ClickText(lambda lang: ngettext(singular, plural, n, lang))


_installed = False


def install_click_translations() -> None:
    """Make click's own texts go through Bluezone's catalogue, in the active
    languages. Idempotent; called when this module is imported."""
    global _installed
    if _installed:
        return
    for name in _CLICK_MODULES:
        try:
            module = importlib.import_module(f"click.{name}")
        except ImportError:  # a click release without that module
            continue
        if getattr(module, "_", None) is _stdlib_gettext.gettext:
            module._ = _click_gettext  # type: ignore[attr-defined]
        if getattr(module, "ngettext", None) is _stdlib_gettext.ngettext:
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]
    _installed = True


def help_languages() -> tuple[str, ...]:
    """The language of help pages: the deployment's first."""
    return active_languages()[:1]


@contextlib.contextmanager
def _translated(objects: Iterable[Any]) -> Iterator[None]:
    """Show our help texts of these commands/parameters translated (in the
    first active language) inside the block, then put the msgids back."""
    saved: list[tuple[Any, str, Any]] = []
    try:
        for obj in objects:
            for attr in _HELP_ATTRIBUTES:
                value = getattr(obj, attr, None)
                if isinstance(value, str) and value:
                    saved.append((obj, attr, value))
                    # click's own help texts (--help's) were looked up when made, maybe in other languages
                    shown = value.part(active_languages()[0]) if isinstance(value, _ClickText) else text(value)
                    setattr(obj, attr, shown)
        yield
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)


def _msgid_help(option: click.Option | None) -> click.Option | None:
    """``--help`` keeps its msgid, translated like our own help texts when shown."""
    if option is not None and not getattr(option, "_bluezone_msgid", False):
        option.help = HELP_OPTION_HELP
        option._bluezone_msgid = True  # type: ignore[attr-defined]
    return option


class _TranslatedHelp:
    """What a translated command and group share: the help page, the usage
    line and the short help in the deployment's first language, and
    ``--help``'s own help as a msgid."""

    def get_help(self, ctx: click.Context) -> str:
        with use_languages(*help_languages()), _translated([self, *self.get_params(ctx)]):  # type: ignore[attr-defined]
            return super().get_help(ctx)  # type: ignore[misc]

    def get_usage(self, ctx: click.Context) -> str:
        with use_languages(*help_languages()):
            return super().get_usage(ctx)  # type: ignore[misc]

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated([self]):
            return super().get_short_help_str(limit)  # type: ignore[misc]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _msgid_help(super().get_help_option(ctx))  # type: ignore[misc]


class Command(_TranslatedHelp, click.Command):
    """A click command whose help page is in the deployment's first language."""


class Group(_TranslatedHelp, click.Group):
    """A click group whose help page, and its list of commands, are in the
    deployment's first language; ``@group.command()`` makes a :class:`Command`."""

    command_class = Command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [self.get_command(ctx, name) for name in self.list_commands(ctx)]
        with _translated(c for c in commands if c is not None and not isinstance(c, (Command, Group))):
            super().format_commands(ctx, formatter)


Group.group_class = Group


def translated_command_class() -> type[Command]:
    """The command class to pass as ``cls=`` (for code that prefers a call)."""
    return Command


install_click_translations()
