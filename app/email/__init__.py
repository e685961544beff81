"""Transactional email: one sender interface, console / SMTP / Resend backends."""
