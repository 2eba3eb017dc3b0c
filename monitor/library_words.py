"""The words click and argparse print themselves ("Usage:", "Error: No such option …"), listed so
``pybabel extract`` puts them in our catalogue; the libraries look them up through the standard
library's gettext once ``monitor.languages.use_terminal_language()`` has run.

Only the messages a user of ``python -m monitor`` or of the device tools can meet are listed;
``tests/test_cli_help.py`` checks each is still one the installed library says.
"""
from __future__ import annotations


def _(message: str) -> str:
    """A marker for pybabel (a default keyword); nothing is looked up here."""
    return message


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """A marker for a message with a plural form (pybabel's ``ngettext`` keyword)."""
    return singular, plural


CLICK = (
    _("Usage:"),
    _("Options"),
    _("Positional arguments"),
    _("Commands"),
    _("Show this message and exit."),
    _("default: {default}"),
    _("required"),
    _("Error: {message}"),
    _("Try '{command} {option}' for help."),
    _("Aborted!"),
    _("Missing command."),
    _("No such command {name!r}."),
    _("No such option {name!r}."),
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"),
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"),
    _("Missing argument"),
    _("Missing option"),
    _("Missing parameter"),
    _("Missing parameter: {param_name}"),
    _("Invalid value: {message}"),
    _("Invalid value for {param_hint}: {message}"),
    _("Option {name!r} does not take a value."),
    ngettext("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."),
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}."),
    _("Choose from:\n\t{choices}"),
    _("{value!r} is not a valid {number_type}."),
    _("{value!r} is not a valid boolean. Recognized values: {states}"),
    _("file"),
    _("directory"),
    _("path"),
    _("{name} {filename!r} does not exist."),
    _("{name} {filename!r} is a file."),
    _("{name} {filename!r} is a directory."),
    _("{name} {filename!r} is not readable."),
    _("{name} {filename!r} is not writable."),
    _("Could not open file {filename!r}: {message}"),
    _("Repeat for confirmation"),
    _("Error: The two entered values do not match."),
)

ARGPARSE = (
    _("usage: "),
    _("positional arguments"),
    _("options"),
    _("show this help message and exit"),
    _("%(prog)s: error: %(message)s\n"),
    _("argument %(argument_name)s: %(message)s"),
    _("the following arguments are required: %s"),
    _("unrecognized arguments: %s"),
    _("expected one argument"),
    _("expected at least one argument"),
    _("invalid choice: %(value)r (choose from %(choices)s)"),
    _("invalid %(type)s value: %(value)r"),
    _("ambiguous option: %(option)s could match %(matches)s"),
    _("ignored explicit argument %r"),
)
