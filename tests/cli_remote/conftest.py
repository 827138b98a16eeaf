"""vmvc's own CLI as a client of ``vmvc daemon`` (``VMVC_HOST``), next to the real docker CLI."""

from __future__ import annotations

import subprocess

import pytest

from tests.daemon.conftest import VMVC, vmvcd  # noqa: F401  (the daemon fixture, reused)


class RemoteCLI:
    """The daemon (``tests.daemon``'s fixture), and ``vmvc`` pointed at it (``remote``) or at the same
    state root directly (``direct``), for comparing the two front ends."""

    def __init__(self, daemon) -> None:
        self.daemon = daemon

    def __getattr__(self, name):  # sock, env, docker(), trace()…
        return getattr(self.daemon, name)

    def remote(self, *args, input=None, timeout=120, host=None):
        env = {**self.env, "VMVC_HOST": host or f"unix://{self.sock}"}
        return subprocess.run([VMVC, *args], env=env, input=input, capture_output=True, text=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)

    def direct(self, *args, timeout=120):
        return subprocess.run([VMVC, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


@pytest.fixture
def remote(vmvcd):  # noqa: F811
    return RemoteCLI(vmvcd)
