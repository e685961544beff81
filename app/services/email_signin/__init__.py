"""Passwordless sign-in by email (SPEC §7.4): one mail with a magic link and a 6-digit
code; either one signs in once, and the other dies with it.

- `requests.py`: asking for the mail (same answer and work for every address);
- `codes.py`: the link and code as stored (one one-time token row holds both);
- `verify.py`: signing in with the link or the code.
"""

from app.services.email_signin.requests import MagicLinkRequests
from app.services.email_signin.verify import EmailSignIn

__all__ = ["EmailSignIn", "MagicLinkRequests"]
