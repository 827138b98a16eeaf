"""``vmvc daemon``: serve the Docker Engine API on a Unix socket (the logic is in :mod:`runtime.daemon`)."""

from __future__ import annotations

import os

from runtime.cli.args import parse, parser
from runtime.errors import VmvcError

DEFAULT_CONFIG = "/etc/vmvc/daemon.json"


def daemon(argv: list[str]) -> int:
    """Serve the Docker Engine API on a socket"""
    from runtime.daemon import server

    p = parser("vmvc daemon", "Serve a Docker Engine API subset on a Unix socket, over vmvc's engine: "
               "point the real docker CLI or SDK at it with DOCKER_HOST=unix://PATH. Stopping the daemon "
               "(SIGTERM, Ctrl-C) leaves containers running; the next daemon or the vmvc CLI adopts them.")
    p.add_argument("-H", "--host", default=f"unix://{server.DEFAULT_SOCKET}",
                   help=f"where to listen: unix://PATH (default unix://{server.DEFAULT_SOCKET})")
    p.add_argument("--config-file",
                   help=f"daemon.json in docker's format (default {DEFAULT_CONFIG} if present)")
    p.add_argument("--trace", action="store_true", help="log every API request with its timing on stderr")
    args = parse(p, argv)
    if not args.host.startswith("unix://"):
        raise VmvcError(f"refusing to listen on {args.host}: the API gives root on this host to whoever "
                        "reaches it, so vmvc serves only a Unix socket (unix://PATH)")
    path = args.host[len("unix://"):]
    if not path.startswith("/"):
        raise VmvcError(f"the socket path must be absolute: {args.host}")
    if os.geteuid() != 0:
        raise VmvcError("vmvc daemon needs root (it runs containers); without root the model "
                        "(vmvc sim) and the recorded results still work")
    from runtime.registry import config as daemon_config

    config = daemon_config.load(args.config_file)
    if config.get("data-root"):
        os.environ["VMVC_ROOT"] = config["data-root"]
    return server.run(path, trace=args.trace, config=config, config_file=args.config_file)
