"""Registries: pull and push over the OCI distribution API, ``registry-mirrors`` as dockerd uses them,
credentials as docker keeps them, and a local registry for offline classrooms.

    >>> from runtime.images import open_store
    >>> from runtime.registry import LocalRegistry, pull, seed
    >>> with LocalRegistry() as hub:                                  # doctest: +SKIP
    ...     seed(open_store(), hub.host)                              # vmvc's busybox as library/busybox
    ...     pull(open_store(), "busybox", config={"hub": hub.url})   # docker.io/library/busybox from it
"""

from runtime.registry.errors import DigestMismatch, RegistryError, Unreachable, Unsupported
from runtime.registry.pull import PullResult, pull
from runtime.registry.push import PushResult, push
from runtime.registry.server import LocalRegistry, seed

__all__ = ["DigestMismatch", "LocalRegistry", "PullResult", "PushResult", "RegistryError", "Unreachable",
           "Unsupported", "pull", "push", "seed"]
