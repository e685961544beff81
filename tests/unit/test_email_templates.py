"""Every mail in every language: complete catalogues, and renderings that hold up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from app.core.languages import SUPPORTED_LANGUAGES
from app.email.i18n import LOCALE_DIR, catalogue_path, format_duration, translations
from app.email.templates import PREVIEW_CONTEXT, render, template_names

EMAIL_DIR = Path(LOCALE_DIR).parent
TRANSLATED = [language for language in SUPPORTED_LANGUAGES if language != "en"]
MAILS = template_names()


def extracted() -> set[str]:
    """The messages the templates hold, as `pybabel extract` with babel.cfg finds them."""
    with (EMAIL_DIR / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    return {message[2] for message in extract_from_dir(str(EMAIL_DIR), method_map, options_map)}


def catalogue(language: str):  # type: ignore[no-untyped-def]
    with catalogue_path(language).open("rb") as source:
        return read_po(source, locale=language)


def preview(mail: str, language: str, **overrides: object) -> tuple[str, str, str]:
    context = {**PREVIEW_CONTEXT, "expires_in": format_duration(timedelta(minutes=15), language)}
    rendered = render(mail, language=language, **{**context, **overrides})
    return rendered.subject, rendered.text, rendered.html


def test_there_are_mails_to_check() -> None:
    assert {"verify_email", "reset_password", "magic_link"} <= set(MAILS)
    assert {"mfa_recovery_code_used", "mfa_reset"} <= set(MAILS)


def test_the_recovery_code_mail_says_how_many_are_left() -> None:
    for language in SUPPORTED_LANGUAGES:
        _, text, html = preview("mfa_recovery_code_used", language, left=3)
        assert ": 3." in text.replace("\u00a0", " ") and ": 3." in html.replace("\u00a0", " ")


def test_the_template_catalogue_is_up_to_date() -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as source:
        pot = {message.id for message in read_po(source) if message.id}
    assert pot == extracted()


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_catalogue_translates_every_message_and_nothing_else(language: str) -> None:
    wanted = extracted()
    messages = {m.id: m for m in catalogue(language) if m.id}
    assert set(messages) == wanted
    for message in messages.values():
        assert message.string, f"{language}: untranslated {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        assert message.string != message.id, f"{language}: English left in {message.id!r}"
    # Placeholders (%(name)s, ...) match between each message and its translation.
    assert [problem for problem in catalogue(language).check()] == []


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("mail", MAILS)
def test_every_mail_renders_in_every_language(mail: str, language: str) -> None:
    subject, text, html = preview(mail, language)
    assert subject and "\n" not in subject
    assert f'<html lang="{language}">' in html
    assert PREVIEW_CONTEXT["link"] in text and PREVIEW_CONTEXT["link"] in html
    assert "{{" not in text + html and "{%" not in text + html and "%(" not in text + html
    if language != "en":
        english_subject, english_text, _ = preview(mail, "en")
        assert subject != english_subject
        english_lines = {line for line in english_text.splitlines() if len(line) > 20}
        english_lines.discard(PREVIEW_CONTEXT["link"])
        assert not english_lines & set(text.splitlines()), "untranslated lines"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("mail", MAILS)
def test_names_are_escaped_in_html_only(mail: str, language: str) -> None:
    _, text, html = preview(mail, language, name="<b>Ada</b> & co")
    assert "&lt;b&gt;Ada&lt;/b&gt; &amp; co" in html and "<b>Ada</b>" not in html
    assert "<b>Ada</b> & co" in text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_without_a_name_the_greeting_is_plain(language: str) -> None:
    _, text, _ = preview("verify_email", language, name=None)
    greeting = text.splitlines()[0]
    assert greeting in {"Hello,", "Hallo,", "Bonjour,", "Hola:"}


def test_the_magic_link_mail_carries_the_code() -> None:
    for language in SUPPORTED_LANGUAGES:
        _, text, html = preview("magic_link", language)
        assert PREVIEW_CONTEXT["code"] in text and PREVIEW_CONTEXT["code"] in html


def test_a_native_reader_would_find_the_wording_right() -> None:
    # Spot checks of grammar the catalogues must get right.
    assert preview("verify_email", "de", name=None)[1].splitlines()[2].startswith("bitte ")
    assert "\u00a0:" in preview("magic_link", "fr")[1]  # French spacing before a colon
    assert preview("magic_link", "es", name="Ada")[1].startswith("Hola, Ada:")
    assert "15 Minuten lang gültig" in preview("magic_link", "de")[1]


@pytest.mark.parametrize(
    ("minutes", "language", "expected"),
    [
        (15, "en", "15 minutes"),
        (60, "en", "1 hour"),
        (1440, "en", "1 day"),
        (90, "en", "90 minutes"),
        (2880, "de", "2 Tage"),
        (60, "fr", "1\u00a0heure"),
        (15, "es", "15 minutos"),
    ],
)
def test_durations_are_exact_and_localised(minutes: int, language: str, expected: str) -> None:
    assert format_duration(timedelta(minutes=minutes), language) == expected


def test_catalogues_compile_in_memory_once() -> None:
    assert translations("de") is translations("de")
    assert translations("de").gettext("Hello,") == "Hallo,"
    assert translations("en").gettext("Hello,") == "Hello,"
    with pytest.raises(ValueError):
        translations("ja")
