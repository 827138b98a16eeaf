"""What can go wrong talking to a registry, sorted the way dockerd's pull decides whether to try the
next endpoint (see docs and :mod:`runtime.registry.endpoints`)."""

from __future__ import annotations

from runtime.errors import VmvcError


class RegistryError(VmvcError):
    """A registry answered, with an error (``MANIFEST_UNKNOWN``, ``UNAUTHORIZED``…) or a bad status."""

    def __init__(self, message: str, status: int = 0, code: str = "", endpoint: str = ""):
        super().__init__(message)
        self.status, self.code, self.endpoint = status, code, endpoint


class Unreachable(RegistryError):
    """No answer at all: connection refused, DNS failure, timeout, TLS failure."""


class ServerError(RegistryError):
    """HTTP 5xx."""


class DigestMismatch(RegistryError):
    """Bytes that do not hash to the digest they were asked for: never stored."""


class Unsupported(RegistryError):
    """A manifest vmvc cannot use (media type, no linux/amd64): no other endpoint will fix it."""
