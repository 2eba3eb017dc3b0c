"""Languages (SPEC §6.1): English and Simplified Chinese through Flask-Babel's gettext catalogues.

The language of a request is ``?lang=``, else the signed-in user's saved choice, else the
browser's ``Accept-Language``, else English. Tags are the web's (``zh-CN``); Babel's locale
names (``zh_Hans_CN``) stay inside this module. Dates, times and numbers are formatted in the site's
default timezone. Outside a request (CLI, report files) ``translator(tag)`` gives the same
catalogues without Flask (``monitor.languages``, re-exported here).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Callable

from babel import Locale
from babel.dates import format_date, format_timedelta
from flask import Flask, g, request
from flask_babel import Babel, get_locale

from monitor.core.messages import Message, msg
# the Flask-free half, re-exported: the CLI and the device tools import it without Flask
from monitor.languages import (DEFAULT, LANGUAGES, TRANSLATIONS, catalogue, environment_tag,  # noqa: F401
                               parse_tag, translator)

def request_tag() -> str:
    """The language of the current request (cached on ``g``)."""
    if "language" not in g:
        g.language = (parse_tag(request.args.get("lang")) or _saved_choice()
                      or parse_tag(request.accept_languages.best_match(("en", "zh-CN", "zh"))) or DEFAULT)
    return g.language


def _saved_choice() -> str | None:
    from flask import session

    from monitor.api import current_identity, runtime
    from monitor.store import repository

    from monitor.errors import ApiError

    try:
        identity = current_identity()
    except ApiError:  # wording the refusal of this very identity (a cross-site post): no saved choice
        identity = None
    if identity is None or identity.user_id is None:
        return parse_tag(session.get("language"))
    with runtime().db.read_session() as db_session:
        return parse_tag(repository.user_language(db_session, identity.user_id))


def init_app(app: Flask, timezone: str) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    app.config["BABEL_DEFAULT_TIMEZONE"] = timezone
    Babel(app, locale_selector=lambda: LANGUAGES[request_tag()])
    app.jinja_env.globals.update(html_lang=request_tag, status_word=status_word, period_word=period_word,
                                 state_word=state_word, role_word=role_word)
    app.jinja_env.filters["long_date"] = long_date


def long_date(value: date) -> str:
    """``December 1, 2026`` / ``2026年12月1日``."""
    return format_date(value, "long", locale=get_locale())


#: Clock states, alert kinds and states, notification states: the keys stay in data attributes and CSS.
STATE_WORDS = {m.id: m for m in (
    msg("running"), msg("paused"), msg("met"), msg("missed"), msg("breached"), msg("cancelled"), msg("warning"),
    msg("breach"), msg("escalation"), msg("open"), msg("acknowledged"), msg("resolved"), msg("retracted"),
    msg("pending"), msg("delivered"), msg("failed"), msg("stopped"))}


def state_word(key: str | None) -> str:
    return current_translator()(STATE_WORDS[key]) if key in STATE_WORDS else (key or "")


#: The roles as people say them (monitor.auth.ROLES; the keys stay in tokens, the CLI and the API).
ROLE_WORDS = {m.id: m for m in (msg("device"), msg("manager"), msg("operations"), msg("auditor"), msg("admin"))}


def role_word(role: str) -> str:
    return current_translator()(ROLE_WORDS[role]) if role in ROLE_WORDS else role


def period_word(per: str) -> str:
    """A goal period (``day``, ``week``, ``month``) as the reader says it."""
    from monitor.core.smart import PERIOD_WORDS

    return current_translator()(PERIOD_WORDS[per]) if per in PERIOD_WORDS else per


def status_word(status: str) -> str:
    """``pass``/``warn``/``fail``/``unknown`` as the reader says it (the CSS classes keep the keys)."""
    from monitor.core.smart import STATUS_WORDS, Status

    return current_translator()(STATUS_WORDS[Status(status)])


def check_language(value: str) -> str:
    """A ``--lang``/``?lang=`` value, or a one-line error naming the choices."""
    tag = parse_tag(value)
    if tag is None:
        raise ValueError(f"unknown language {value!r}; choose one of {', '.join(LANGUAGES)}")
    return tag


def current_translator() -> Callable[[Message | str], str]:
    """The request's language inside a request, else the environment's (CLI)."""
    from flask import has_request_context

    return translator(request_tag() if has_request_context() else environment_tag())


def duration_words(value: timedelta | float | int | None, tag: str | None = None) -> str:
    """``2 min 30 sec`` / ``2分钟30秒``: whole seconds, the two largest units, in the language."""
    if value is None:
        return "—"
    seconds = int(round(value.total_seconds() if isinstance(value, timedelta) else value))
    locale = Locale.parse(LANGUAGES[tag]) if tag else get_locale()
    sign, seconds = ("−", -seconds) if seconds < 0 else ("", seconds)
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(format_timedelta(timedelta(seconds=amount * size), threshold=10 ** 9,
                                          granularity=unit, format="short", locale=locale))
    if not parts:
        parts = [format_timedelta(timedelta(0), granularity="second", format="short", locale=locale)]
    joiner = "" if str(locale).startswith("zh") else " "
    return sign + joiner.join(parts[:2])
