"""Languages without Flask or Babel (SPEC §6.1): the tags, the terminal's language and the compiled
catalogues, read with the standard library's ``gettext`` alone.

``monitor.i18n`` builds the web's language choice on this; the command lines (``python -m
monitor``, ``python -m monitor.broker``, the device tools in ``sensors``) use it directly, so a
device with only paho-mqtt and requests installed still speaks its operator's language.
"""
from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path
from typing import Callable, Mapping

from monitor.core.messages import Message

TRANSLATIONS = Path(__file__).with_name("translations")
DOMAIN = "messages"
#: web tag → Babel locale name (the catalogue's directory)
LANGUAGES = {"en": "en", "zh-CN": "zh_Hans_CN"}
DEFAULT = "en"
_ALIASES = {"en": "en", "en-us": "en", "en-gb": "en", "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN",
            "zh-hans-cn": "zh-CN", "zh_cn": "zh-CN"}


def parse_tag(value: str | None) -> str | None:
    """``zh-CN``, ``zh_CN``, ``zh``, ``zh_CN.UTF-8`` → ``zh-CN``; ``en…`` → ``en``; else None."""
    if not value:
        return None
    value = value.split(".")[0].split("@")[0].strip().lower()
    if value in _ALIASES:
        return _ALIASES[value]
    return "en" if value.startswith("en") else ("zh-CN" if value.startswith("zh") else None)


def environment_tag(environ: Mapping[str, str] = os.environ) -> str:
    """The CLI's language: ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG`` (POSIX order)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return parse_tag(environ[name]) or DEFAULT
    return DEFAULT


@functools.cache
def catalogue(tag: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: the message ids themselves)."""
    return gettext.translation(DOMAIN, TRANSLATIONS, [LANGUAGES[tag]], fallback=True)


def translator(tag: str) -> Callable[[Message | str], str]:
    """``render(message)`` in language ``tag``: a Message's id looked up and its parameters filled
    in (parameters that are Messages themselves are translated too); a plain string is looked up."""
    gettext_ = catalogue(tag).gettext

    def render(message: Message | str) -> str:
        if isinstance(message, str):
            return gettext_(message)
        params = {k: render(v) if isinstance(v, Message) else v for k, v in message.params.items()}
        return gettext_(message.id).format(**params)

    return render


def terminal_text(message: Message | str) -> str:
    """A message in the terminal's language (LC_ALL, LC_MESSAGES, LANG: SPEC §6.1)."""
    return translator(environment_tag())(message)


def _l(text: str) -> str:
    """A command line's own words (help texts; the extraction keyword) in the terminal's language.
    A command line speaks one language for its whole run, so a help text is looked up as its
    command is defined."""
    return catalogue(environment_tag()).gettext(text)


def use_terminal_language() -> None:
    """Give click and argparse, which print their own words ("Usage:", "Error: No such option …")
    through the standard library's global gettext, our catalogue in the terminal's language.

    Call it first thing in a command line's entry point. The global gettext picks the language
    from ``LANGUAGE`` before ``LC_ALL``/``LANG``, and knows ``zh_Hans_CN`` by that name only, so
    it is given our choice there (child processes inherit the same choice)."""
    os.environ["LANGUAGE"] = LANGUAGES[environment_tag()]
    gettext.bindtextdomain(DOMAIN, str(TRANSLATIONS))
    gettext.textdomain(DOMAIN)
