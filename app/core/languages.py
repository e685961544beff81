"""Which of the supported languages a user's emails are written in.

A user's `locale` is a BCP 47 tag (`de`, `de-AT`, `es-419`, `pt-BR`, ...). It is
kept as given, even when no catalogue exists for it; mails then fall back to
the next choice: the language the registering request's `Accept-Language`
asked for, else English. Tags match case-insensitively, by the whole tag
first and then by its primary language subtag (`de-AT` -> `de`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_LANGUAGE = "en"
SUPPORTED_LANGUAGES = ("en", "de", "fr", "es")

# RFC 5646's shape, loosely: a 2-8 letter primary subtag (or "x"/"i" for private
# use and grandfathered tags), then 1-8 character alphanumeric subtags. 35
# characters is the length RFC 5646 §4.4.1 asks implementations to support.
LOCALE_MAX_LENGTH = 35
_TAG = re.compile(r"^(?:[A-Za-z]{2,8}|[xXiI])(?:-[A-Za-z0-9]{1,8})*$")
# Accept-Language is client input of any size; only this many entries are looked at.
_MAX_RANGES = 20
_QUALITY = re.compile(r"^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$", re.IGNORECASE)


def is_language_tag(value: str) -> bool:
    """Whether `value` is shaped like a BCP 47 language tag."""
    return len(value) <= LOCALE_MAX_LENGTH and _TAG.match(value) is not None


def supported_language(tag: str | None) -> str | None:
    """The supported language `tag` names (whole tag, then primary subtag), or None."""
    if not tag:
        return None
    lowered = tag.strip().lower().replace("_", "-")
    if lowered in SUPPORTED_LANGUAGES:
        return lowered
    primary = lowered.split("-", 1)[0]
    return primary if primary in SUPPORTED_LANGUAGES else None


def choose_language(candidates: Iterable[str | None]) -> str:
    """The first candidate that names a supported language, else English."""
    for candidate in candidates:
        language = supported_language(candidate)
        if language is not None:
            return language
    return DEFAULT_LANGUAGE


def accept_language(header: str | None) -> str | None:
    """The supported language an `Accept-Language` header prefers, or None.

    Ranges are taken by quality (RFC 9110 §12.5.4), ties in the order given;
    `q=0` means "not this one". A malformed entry is skipped, never an error.
    """
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:_MAX_RANGES]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        if params:
            match = _QUALITY.match(params.strip().replace(" ", ""))
            if match is None:
                continue
            quality = float(match.group(1))
        if quality <= 0 or tag == "*" or not is_language_tag(tag):
            continue
        ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        language = supported_language(tag)
        if language is not None:
            return language
    return None
