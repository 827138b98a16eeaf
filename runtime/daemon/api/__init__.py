"""The Engine API endpoints, one module per resource (system, containers, exec, images)."""

from runtime.daemon.api import build, containers, execs, images, system  # noqa: F401
