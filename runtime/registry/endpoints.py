"""Which registry endpoints a pull tries, in order, and when it moves on to the next: dockerd's rules.

For Docker Hub images (``docker.io/…``) the list is the configured ``registry-mirrors`` in order, then
the Hub itself (or the URL the config's ``hub`` key names). Other registries get ``https://host``, plus
plain ``http://host`` after it when the host is insecure (listed in ``insecure-registries``, or on
loopback, as dockerd treats 127.0.0.0/8). Moving on (dockerd's ``continueOnError``): after no answer
at all or a 5xx, always; after a registry's error answer (an unknown manifest, a refused login) only
when the endpoint that gave it was a mirror; never after an unusable manifest.
"""

from __future__ import annotations

import ipaddress

from runtime.registry import config as daemon_config
from runtime.registry.errors import DigestMismatch, RegistryError, ServerError, Unreachable, Unsupported
from runtime.registry.http import Endpoint


def _insecure(host: str, conf: dict) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    if name == "localhost":
        return True
    try:
        if ipaddress.ip_address(name).is_loopback:
            return True
    except ValueError:
        pass
    for entry in conf.get("insecure-registries") or []:
        if entry == host or entry == name:
            return True
        try:
            if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def for_pull(domain: str, conf: dict | None = None) -> list[Endpoint]:
    conf = daemon_config.load() if conf is None else conf
    if domain == "docker.io":
        mirrors = [Endpoint(daemon_config.validate_mirror(m), mirror=True)
                   for m in conf.get("registry-mirrors") or []]
        return mirrors + [Endpoint(conf.get("hub") or daemon_config.HUB)]
    return for_push(domain, conf)


def for_push(domain: str, conf: dict | None = None) -> list[Endpoint]:
    """Push never uses mirrors."""
    conf = daemon_config.load() if conf is None else conf
    if domain == "docker.io":
        return [Endpoint(conf.get("hub") or daemon_config.HUB)]
    insecure = _insecure(domain, conf)
    out = [Endpoint(f"https://{domain}", insecure=insecure)]
    if insecure:
        out.append(Endpoint(f"http://{domain}", insecure=True))
    return out


def go_on(error: Exception, endpoint: Endpoint) -> bool:
    """After ``error`` from ``endpoint``, try the next endpoint?"""
    if isinstance(error, Unsupported):
        return False
    if isinstance(error, (Unreachable, ServerError)):
        return True
    if isinstance(error, (RegistryError, DigestMismatch)):
        return endpoint.mirror
    return False
