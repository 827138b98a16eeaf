"""A small Docker Engine API client over a Unix socket, standard library only.

``vmvc --host unix://PATH CMD`` (or ``VMVC_HOST``) uses it to drive a ``vmvc daemon`` the way the docker
CLI does: plain requests with :mod:`http.client`, the ``101 UPGRADED`` hijack for attach and exec, the
8-byte stream frames, JSON-lines progress. :mod:`~runtime.api_client.engine` and
:mod:`~runtime.api_client.images` present it as the engine and image store the CLI already prints, so
the remote path shows exactly what the direct path shows. The direct path never imports this package.
"""

from runtime.api_client.client import Client, DaemonUnreachable, parse_host

__all__ = ["Client", "DaemonUnreachable", "parse_host"]
