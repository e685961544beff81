"""Authentication and user-management backend."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auth-backend")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
