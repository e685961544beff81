"""Email templates: Jinja2 with gettext, one environment per language.

Every mail is three renderings of one template name: the subject (the `title`
block of `<name>.html`), `<name>.txt` and `<name>.html`. Text to translate sits
in `{% trans %}` blocks; the i18n extension looks it up in the language's
catalogue (app/email/i18n.py) and escapes the variables it fills in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from html import unescape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.email.i18n import translations

TEMPLATE_DIR = Path(__file__).parent / "templates"


# Values for every variable any mail uses, to render each one for a look or a check
# (the test suite and the container smoke test render every mail in every language).
PREVIEW_CONTEXT: dict[str, Any] = {
    "name": "Ada Lovelace",
    "link": "https://app.example.com/magic-link?token=preview",
    "code": "042917",
    "left": 7,
}


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def template_names() -> list[str]:
    """Every mail there is: the names with both a text and an HTML template (`_*` are parts)."""
    html = {path.stem for path in TEMPLATE_DIR.glob("*.html")}
    texts = TEMPLATE_DIR.glob("*.txt")
    return sorted(p.stem for p in texts if p.stem in html and not p.stem.startswith("_"))


@cache
def _environment(language: str) -> Environment:
    # Autoescape for HTML: full_name is user input. StrictUndefined: a typo fails loudly.
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # Trimmed: a message wrapped over several template lines is one line in the
    # catalogue, so translators never handle the templates' line breaks.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = language
    return env


def render(template: str, /, *, language: str, **context: Any) -> RenderedEmail:
    """Render mail `template` in `language` (one of SUPPORTED_LANGUAGES)."""
    env = _environment(language)
    html_template = env.get_template(f"{template}.html")
    html = html_template.render(**context)
    subject_block = html_template.blocks["title"](html_template.new_context(dict(context)))
    # The title block is HTML-escaped; a subject is plain text on one line.
    subject = " ".join(unescape("".join(subject_block)).split())
    text = env.get_template(f"{template}.txt").render(**context)
    return RenderedEmail(subject=subject, text=text, html=html)
