"""Translations of the emails: gettext catalogues, compiled in memory at first use.

The `.po` files under `locale/` are the only form kept in the repository and
shipped in the package: each is parsed and compiled to gettext's binary form
by Babel when a language is first needed (a few milliseconds, once per
process). There is no generated `.mo` file to forget to rebuild or to keep in
step, and no build step beyond installing the package. English needs no
catalogue: the templates' own text is the English.

Maintainers extract and merge with Babel's command line (see the README,
"Emails in the user's language").
"""

from __future__ import annotations

import gettext
import io
from datetime import timedelta
from functools import cache
from pathlib import Path

from app.core.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a supported language (English: the templates' text)."""
    if language not in SUPPORTED_LANGUAGES:
        raise ValueError(f"unsupported language: {language}")
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    # Babel's catalogue reader is imported here, at the first mail, not at start-up.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalogue_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    # Fuzzy entries are drafts: like msgfmt, leave them out (the English shows instead).
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


_UNITS = (
    (1440, "duration-day"),
    (60, "duration-hour"),
    (1, "duration-minute"),
)


def format_duration(delta: timedelta, language: str) -> str:
    """`15 minutes`, `24 Stunden`, `1 jour`: the largest unit that states `delta` exactly."""
    from babel.units import format_unit

    minutes = max(1, int(delta.total_seconds() // 60))
    for size, unit in _UNITS:
        if minutes % size == 0:
            return format_unit(minutes // size, unit, length="long", locale=language)
    raise AssertionError("unreachable: every whole number of minutes divides by 1")
