"""Passkeys (WebAuthn Level 3): registration, sign-in and the user's list (SPEC §7.2).

Verification is py_webauthn's; this package keeps the ceremonies' state
(challenges in the shared store), the stored credentials and the rules the
spec adds (counter clones, the last way into an account).
"""
