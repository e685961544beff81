"""Password policy (SPEC §5): 8-128 characters, not a common password, any Unicode."""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 128
_COMMON_LIST = Path(__file__).parent / "data" / "common-passwords.txt.gz"


@cache
def _common_passwords() -> frozenset[str]:
    # Royce Williams' list as shipped by Django (20k entries), reduced to the
    # entries long enough to pass the length rule.
    with gzip.open(_COMMON_LIST, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def normalise(password: str) -> str:
    """NFKC, as NIST SP 800-63B advises, so the same visible password always matches."""
    return unicodedata.normalize("NFKC", password)


def password_problem(password: str, *, email: str | None = None) -> str | None:
    """Return why `password` is not acceptable, or None when it is.

    Length is counted in code points of what the user typed; nothing is stripped
    or case-folded.
    """
    length = len(password)
    if length < MIN_LENGTH:
        return f"Password must be at least {MIN_LENGTH} characters long"
    if length > MAX_LENGTH:
        return f"Password must be at most {MAX_LENGTH} characters long"
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in password):
        return "Password must not contain control characters"
    folded = normalise(password).lower()
    if folded in _common_passwords():
        return "Password is too common"
    if email and folded in {email.lower(), email.split("@", 1)[0].lower()}:
        return "Password must not be the email address"
    return None
