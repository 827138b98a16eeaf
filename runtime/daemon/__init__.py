"""``vmvc daemon``: the Docker Engine API on a Unix socket, over the same engine the CLI uses.

The real docker CLI and the docker SDK drive it unchanged::

    $ vmvc daemon --host unix:///tmp/vmvc.sock --trace &
    $ DOCKER_HOST=unix:///tmp/vmvc.sock docker run --rm busybox echo hi
    hi

Modules: :mod:`~runtime.daemon.http` (a small HTTP/1.1 server on asyncio with docker's hijack),
:mod:`~runtime.daemon.routes` (the route table), :mod:`~runtime.daemon.server` (life, dispatch, errors),
:mod:`~runtime.daemon.streams` (engine sessions <-> hijacked sockets), :mod:`~runtime.daemon.events`,
and one module per resource in :mod:`runtime.daemon.api`.
"""

from runtime.daemon.server import API_VERSION, DEFAULT_SOCKET, Daemon, run

__all__ = ["API_VERSION", "DEFAULT_SOCKET", "Daemon", "run"]
