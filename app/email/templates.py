from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE_DIR = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    # Autoescape for HTML: full_name is user input. StrictUndefined: a typo fails loudly.
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, /, **context: Any) -> tuple[str, str]:
    """Render `<template>.txt` and `<template>.html`; return (text, html)."""
    env = _environment()
    text = env.get_template(f"{template}.txt").render(**context)
    html = env.get_template(f"{template}.html").render(**context)
    return text, html
