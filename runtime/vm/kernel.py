"""Guest kernels: fetch a Debian cloud kernel without installing it, cache it, verify it on every use.

Why a cache with hashes: a boot measurement is only repeatable with the same kernel bytes, and a
truncated or swapped file must fail loudly rather than boot something else. Each cached kernel is
``kernels/<name>`` plus ``kernels/<name>.json`` holding its sha256; :func:`resolve` re-hashes the
file every time it hands a kernel out (14 MB: a few tens of milliseconds).

Sources, in the order :func:`resolve` tries them: an explicit ``--kernel PATH``; the newest
cached kernel; the host's own ``/boot/vmlinuz-*`` when it is readable. ``vmvc vm fetch-kernel``
fills the cache: ``apt-get download linux-image-<version>-cloud-amd64`` and the ``boot/vmlinuz-*``
member taken out of the package (``dpkg-deb --fsys-tarfile``), nothing installed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from runtime import paths
from runtime.errors import NotFound, VmvcError

META_PACKAGE = "linux-image-cloud-amd64"


@dataclass(frozen=True)
class Kernel:
    path: str
    sha256: str
    version: str
    source: str          # "cache", "path" or "host"
    package: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_dir(cache: str | Path | None = None) -> Path:
    if cache is None:
        return Path(paths.subdir("kernels"))
    Path(cache).mkdir(parents=True, exist_ok=True)
    return Path(cache)


def _version_of(name: str) -> str:
    return name.removeprefix("vmlinuz-")


def cached(cache: str | Path | None = None) -> list[Kernel]:
    """Kernels in the cache, newest first (not verified: :func:`verify` does that)."""
    found = []
    for meta in glob.glob(str(cache_dir(cache) / "vmlinuz-*.json")):
        with open(meta) as f:
            info = json.load(f)
        found.append((os.path.getmtime(meta), Kernel(meta[:-5], info["sha256"], info["version"], "cache",
                                                     info.get("package", ""))))
    return [k for _, k in sorted(found, key=lambda t: t[0], reverse=True)]


def verify(kernel: Kernel) -> Kernel:
    """Re-hash the file; a mismatch means it changed since it was cached."""
    if not os.path.isfile(kernel.path):
        raise NotFound(f"kernel {kernel.path} is missing (run 'vmvc vm fetch-kernel')")
    actual = sha256_of(kernel.path)
    if actual != kernel.sha256:
        raise VmvcError(f"kernel {kernel.path} fails its hash check: sha256 {actual[:16]}… expected "
                        f"{kernel.sha256[:16]}… (delete it and run 'vmvc vm fetch-kernel')")
    return kernel


def from_path(path: str) -> Kernel:
    if not os.path.isfile(path):
        raise NotFound(f"kernel {path}: no such file")
    if not os.access(path, os.R_OK):
        raise VmvcError(f"kernel {path}: not readable", exit_code=126)
    return Kernel(os.path.abspath(path), sha256_of(path), _version_of(os.path.basename(path)), "path")


def host_kernels(boot: str = "/boot") -> list[str]:
    return sorted(p for p in glob.glob(f"{boot}/vmlinuz-*") if os.access(p, os.R_OK))


def resolve(path: str | None = None, cache: str | Path | None = None, boot: str = "/boot") -> Kernel:
    """The kernel to boot: ``path``, else the newest cached (verified), else the host's own."""
    if path:
        return from_path(path)
    kernels = cached(cache)
    if kernels:
        return verify(kernels[0])
    host = host_kernels(boot)
    if host:
        k = from_path(host[-1])
        return Kernel(k.path, k.sha256, k.version, "host")
    raise NotFound("no guest kernel: run 'vmvc vm fetch-kernel' or pass --kernel PATH")


def ensure_available(announce=None) -> bool:
    """Fetch a kernel when none is cached and the host has none readable, as ``docker run`` pulls a
    missing image; ``announce()`` is called first. True when it fetched."""
    if cached() or host_kernels():
        return False
    if announce:
        announce()
    fetch()
    return True


def package_name(meta: str = META_PACKAGE, update: bool | None = None) -> str:
    """The versioned image package the meta package depends on (``linux-image-6.1.0-NN-cloud-amd64``).

    A fresh container image often has no apt lists at all; as root, ``apt-get update`` is run once
    and the question asked again (``update=False`` forbids that).
    """
    update = os.geteuid() == 0 if update is None else update
    for attempt in (1, 2):
        try:
            out = _run(["apt-cache", "depends", meta], "apt-cache depends")
        except VmvcError:
            out = ""
        for line in out.splitlines():
            m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
            if m:
                return m.group(1)
        if attempt == 1 and update:
            _run(["apt-get", "update", "-qq"], "apt-get update")
        else:
            break
    raise NotFound(f"apt-cache knows no versioned package behind {meta} (run apt-get update)")


def _run(cmd: list[str], what: str, cwd: str | None = None) -> str:
    if shutil.which(cmd[0]) is None:
        raise NotFound(f"{what}: {cmd[0]} not found (a Debian/Ubuntu host is needed to fetch kernels)")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise VmvcError(f"{what}: {detail}")
    return proc.stdout


def extract_vmlinuz(deb: str, dest_dir: str) -> str:
    """Take only ``boot/vmlinuz-*`` out of the package (streamed; the modules are never written)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    found = None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if member.isfile() and member.name.lstrip("./").startswith("boot/vmlinuz-"):
                    found = os.path.join(dest_dir, base)
                    with tar.extractfile(member) as src, open(found, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    break
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
    if not found:
        raise VmvcError(f"{os.path.basename(deb)} has no boot/vmlinuz-*")
    return found


def store(vmlinuz: str, cache: str | Path | None = None, package: str = "") -> Kernel:
    """Move a kernel into the cache with its hash (atomically: a crash leaves no half entry)."""
    directory = cache_dir(cache)
    name = os.path.basename(vmlinuz)
    name = name if name.startswith("vmlinuz-") else f"vmlinuz-{name}"
    digest = sha256_of(vmlinuz)
    target = directory / name
    tmp = directory / f".{name}.vmvc-tmp"
    shutil.copyfile(vmlinuz, tmp)
    os.replace(tmp, target)
    meta = {"sha256": digest, "version": _version_of(name), "package": package, "fetched": time.time()}
    tmp_meta = directory / f".{name}.json.vmvc-tmp"
    tmp_meta.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_meta, directory / f"{name}.json")
    return Kernel(str(target), digest, meta["version"], "cache", package)


def fetch(package: str | None = None, cache: str | Path | None = None,
          force: bool = False) -> tuple[Kernel, bool]:
    """Download (or reuse) the cloud kernel. Returns the kernel and whether it was downloaded now."""
    package = package or package_name()
    version = package.removeprefix("linux-image-")
    if not force:
        for k in cached(cache):
            if k.version == version:
                return verify(k), False
    with tempfile.TemporaryDirectory(prefix="vmvc-kernel-") as tmp:
        _run(["apt-get", "download", package], f"apt-get download {package}", cwd=tmp)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if not debs:
            raise VmvcError(f"apt-get download {package} produced no .deb")
        vmlinuz = extract_vmlinuz(debs[0], tmp)
        return store(vmlinuz, cache, package), True
