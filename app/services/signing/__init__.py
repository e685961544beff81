"""Signing keys of asymmetric access tokens (SPEC §7.3): the key set in the database,
its rotation, and each worker's loaded copy."""
