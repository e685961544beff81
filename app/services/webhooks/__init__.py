"""Signed webhooks (Standard Webhooks) fed by a transactional outbox."""
