"""The daemon fixture, for docker build through vmvc daemon."""

from tests.daemon.conftest import vmvcd  # noqa: F401
