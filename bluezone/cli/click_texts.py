"""Click's own texts, for the core's catalogue.

Click looks these up through gettext (see :mod:`bluezone.cli.i18n_click`);
listing them here with :func:`~bluezone.i18n.N_` puts them in the
``bluezone`` domain's template so translators see them beside ours. The
msgids are click's, character for character (click 8.1 to 8.5); a text
click adds later is shown in English until it is listed here.
"""

from __future__ import annotations

from ..i18n import N_

CLICK_TEXTS = (
    # help pages
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Positional arguments"),
    N_("Show this message and exit."), N_("Show the version and exit."),
    N_("%(prog)s, version %(version)s"),
    N_("default: {default}"), N_("env var: {var}"), N_("required"), N_("(dynamic)"), N_("deprecated"),
    N_("Choose from:\n\t{choices}"),
    # usage errors
    N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"), N_("Missing {param_type}"),
    N_("Missing parameter: {param_name}"), N_("Missing command."),
    N_("No such option {name!r}."), N_("No such command {name!r}."),
    N_("Option {name!r} does not take a value."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"),
    N_("{value!r} is not a valid {number_type}."), N_("{value} is not in the range {range}."),
    N_("{value!r} is not a valid UUID."), N_("Value must be an iterable."),
    N_("Argument {name!r} takes {nargs} values."),
    N_("file"), N_("directory"), N_("path"),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a file."),
    N_("{name} {filename!r} is a directory."), N_("{name} {filename!r} is not readable."),
    N_("{name} {filename!r} is not writable."), N_("{name} {filename!r} is not executable."),
    N_("Could not open file {filename!r}: {message}"), N_("unknown error"),
    # prompts
    N_("Aborted!"), N_("Repeat for confirmation"), N_("Error: The two entered values do not match."),
    N_("Error: invalid input"), N_("Do you want to continue?"), N_("Confirm the action without prompting."),
)


def _plurals(n: int) -> None:
    """Click's plural texts (never called; extraction reads the pairs)."""
    from ..i18n import _n

    _n("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", n)
    _n("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", n)
    _n("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", n)
    _n("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", n)
    _n("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}.", n)
