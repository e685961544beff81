from __future__ import annotations

import pytest

from app.core.languages import accept_language, choose_language, is_language_tag


@pytest.mark.parametrize(
    "tag", ["en", "de-AT", "es-419", "zh-Hant-TW", "sr-Latn-RS", "x-klingon", "i-navajo", "tlh"]
)
def test_language_tags(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "tag",
    ["", "e", "english!", "de_AT", "de-", "-de", "de--AT", "de AT", "a" * 36, "de-toolongsubtag"],
)
def test_not_language_tags(tag: str) -> None:
    assert not is_language_tag(tag)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (["de"], "de"),
        (["DE-at"], "de"),
        (["fr-CA", "es"], "fr"),
        (["ja", "es"], "es"),
        (["ja", None], "en"),
        ([None, None], "en"),
        (["es-419"], "es"),
    ],
)
def test_choose_language(candidates: list[str | None], expected: str) -> None:
    assert choose_language(candidates) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en-US,en;q=0.9", "en"),
        ("ja,fr;q=0.5", "fr"),
        ("fr;q=0.4, es;q=0.8", "es"),
        ("es;q=0, fr;q=0.1", "fr"),
        ("*", None),
        ("ja, zh-CN", None),
        ("", None),
        (None, None),
        ("de;q=2, fr", "fr"),
        ("de;q=abc, es", "es"),
        (";;;,,,", None),
        ("x" * 5000, None),
        ("fr-CA;Q=1.0", "fr"),
    ],
)
def test_accept_language(header: str | None, expected: str | None) -> None:
    assert accept_language(header) == expected
