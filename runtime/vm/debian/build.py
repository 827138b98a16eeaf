"""Build the Debian guest from nothing: mmdebstrap → kernel + initrd → tarball → ext4 (mke2fs -d) → qcow2.

Why these tools: ``mmdebstrap`` is Debian's own way to make a root filesystem from the archive (the
same packages an installer would unpack); ``mke2fs -d`` writes a directory into a new ext4 image
without a loop device or a mount; ``qemu-img convert`` turns the sparse raw image into a qcow2 base
that each VM gets a thin overlay of.

No leftovers, whatever happens:

* mmdebstrap (root mode) mounts ``/dev``, ``/proc``, ``/sys`` into the chroot while it runs. It runs
  under ``unshare -m`` (a private mount namespace), so those mounts never appear in the host's mount
  table and vanish with its last process -- also when it is SIGKILLed;
* every tool runs in its own process group with ``PR_SET_PDEATHSIG``; on an error or Ctrl-C the
  group is killed and reaped before the build directory is removed;
* all work happens in ``<cache>/.build-<pid>-*`` on the cache's filesystem and the finished directory
  is renamed into place: a failure leaves nothing in the cache (a SIGKILL leaves the ``.build`` dir,
  which the next call sweeps).

Failures become one line: an unknown release or package, no space left, a missing tool.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable

from runtime.errors import NotFound, VmvcError
from runtime.vm.debian import image as cache
from runtime.vm.debian.recipe import Recipe, size_bytes
from runtime.vm.kernel import sha256_of

MIRROR = "http://deb.debian.org/debian"
STAGES = ("mmdebstrap", "kernel + initrd", "rootfs tarball", "ext4 disk (mke2fs -d)", "qcow2 base (qemu-img)",
          "sha256")
TOOLS = {"mmdebstrap": "mmdebstrap", "mke2fs": "e2fsprogs", "qemu-img": "qemu-utils", "unshare": "util-linux",
         "tar": "tar"}

Progress = Callable[[str, str], None]   # (stage, detail): a new stage, or more detail about the current one


class BuildError(VmvcError):
    pass


def _quiet(stage: str, detail: str) -> None:
    pass


def check_tools() -> None:
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise NotFound(f"cannot build a Debian image: missing {', '.join(missing)} "
                       f"(apt-get install mmdebstrap qemu-utils e2fsprogs)")
    if os.geteuid() != 0:
        raise VmvcError("building a Debian image needs root (mmdebstrap's root mode, device nodes)", 126)


def explain(tool: str, output: str, recipe: Recipe, where: str) -> str:
    """One line for a failed tool, from what it printed."""
    if "No space left on device" in output or "Could not allocate block" in output:
        return f"no space left on device while building in {where} ({tool})"
    m = re.search(r"Unable to locate package (\S+)", output)
    if m:
        return f"unknown package '{m.group(1)}' in Debian {recipe.release}"
    m = re.search(r"[Pp]ackage '?(\S+?)'? has no installation candidate", output)
    if m:
        return f"package '{m.group(1)}' has no installation candidate in Debian {recipe.release}"
    if re.search(rf"dists/{re.escape(recipe.release)}/\S*Release|does not have a Release file|"
                 rf"{re.escape(recipe.release)} Release", output):
        return f"unknown Debian release '{recipe.release}' ({MIRROR} has no dists/{recipe.release})"
    generic = ("mmdebstrap failed to run", "setup failed", "hookhelper failed", "special hook failed")
    errors = [ln.strip() for ln in output.splitlines() if ln.startswith(("E:", "tar:", "mke2fs", "qemu-img"))
              and not any(g in ln for g in generic)]
    first = (errors or [ln for ln in output.splitlines() if ln.strip()] or ["failed"])[0]
    return f"{tool} failed: {first[:200]}"


def _deathsig():
    from runtime.vm.qemu import _deathsig as deathsig

    return deathsig()


def run_tool(cmd: list[str], recipe: Recipe, where: str, on_line: Callable[[str], None] | None = None) -> str:
    """Run one build tool in its own process group; its output, or :class:`BuildError` with one line."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_deathsig(), text=True, errors="replace")
    out = []
    try:
        for line in proc.stdout:
            out.append(line)
            if on_line:
                on_line(line.rstrip())
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            try:  # a grandchild that outlived the tool dies with the group
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.stdout.close()
    text = "".join(out)
    if proc.returncode != 0:
        tool = next(os.path.basename(c) for c in cmd if c[0] != "-" and c not in ("unshare", "private"))
        raise BuildError(explain(tool, text, recipe, where))
    return text


def _staging(recipe: Recipe, directory: str) -> str:
    """vmvc's files, laid out as in the guest, for mmdebstrap's ``sync-in`` hook."""
    for path, (text, mode) in recipe.files().items():
        dest = os.path.join(directory, path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            f.write(text)
        os.chmod(dest, mode)
    wants = os.path.join(directory, "etc/systemd/system/multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/etc/systemd/system/vmvc-report.service", os.path.join(wants, "vmvc-report.service"))
    return directory


def mmdebstrap_command(recipe: Recipe, root: str, staging: str) -> list[str]:
    # The files go in before the kernel is installed, so the initrd's fsck hook sees the fstab.
    return ["unshare", "--mount", "--propagation", "private", "mmdebstrap", "--mode=root",
            "--variant=minbase", f"--include={','.join(recipe.packages)}",
            f"--essential-hook=sync-in {staging} /",
            f'--customize-hook=cp {staging}/etc/hostname "$1/etc/hostname"',  # mmdebstrap copies the host's
            '--customize-hook=rm -f "$1"/boot/*.dpkg-bak "$1"/boot/*.new',
            recipe.release, root, MIRROR]


def _newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    if not found:
        raise BuildError(f"the built rootfs has no {os.path.basename(pattern)}")
    return found[-1]


def _os_release(root: str) -> dict:
    out = {}
    try:
        with open(os.path.join(root, "etc/os-release")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                out[k] = v.strip('"')
    except OSError:
        pass
    return out


def _tree_bytes(root: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def allocated(path: str) -> int:
    """Bytes a file really occupies on disk (sparse files count only what is written)."""
    return os.stat(path).st_blocks * 512


def build(recipe: Recipe, cache_root: str | None = None, force: bool = False, progress: Progress = _quiet,
          needs: tuple[str, ...] = cache.FILES) -> tuple[cache.Image, bool]:
    """The image of ``recipe``: from the cache when it is there and ``needs`` verify, else built now.

    Returns the image and whether it was built by this call. A cached entry that fails its hash
    check is removed and rebuilt (the reason is passed to ``progress``).
    """
    key = recipe.key()
    cache.sweep_stale(cache_root)
    existing = cache.lookup(key, cache_root)
    if existing is not None and not force:
        try:
            progress("verify", f"cached image {key}")
            return cache.verify(existing, needs), False
        except cache.Corrupted as e:
            progress("verify", f"{e}: rebuilding")
    check_tools()
    where = cache.cache_dir(cache_root)
    work = tempfile.mkdtemp(prefix=f".build-{os.getpid()}-", dir=where)
    try:
        manifest = _build_in(recipe, work, where, progress)
        if existing is not None or force:
            cache.remove(key, cache_root)
        os.rename(work, cache.entry(key, cache_root))
    except OSError as e:
        shutil.rmtree(work, ignore_errors=True)
        if e.errno == 28:
            raise BuildError(f"no space left on device while building in {where}") from None
        raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return cache.Image(cache.entry(key, cache_root), manifest), True


def _build_in(recipe: Recipe, work: str, where: str, progress: Progress) -> dict:
    timings: dict[str, float] = {}
    root, staging = os.path.join(work, "root"), _staging(recipe, os.path.join(work, "staging"))

    def stage(name: str, fn):
        progress(name, "")
        t = time.perf_counter()
        result = fn()
        timings[name] = time.perf_counter() - t
        return result

    stage("mmdebstrap", lambda: run_tool(mmdebstrap_command(recipe, root, staging), recipe, where,
                                         lambda line: progress("mmdebstrap", line)))

    def kernel_files() -> str:
        vmlinuz = _newest(os.path.join(root, "boot/vmlinuz-*"))
        shutil.copyfile(vmlinuz, os.path.join(work, "vmlinuz"))
        shutil.copyfile(_newest(os.path.join(root, "boot/initrd.img-*")), os.path.join(work, "initrd.img"))
        return os.path.basename(vmlinuz).removeprefix("vmlinuz-")

    kernel_version = stage("kernel + initrd", kernel_files)
    release = _os_release(root)
    rootfs_bytes = _tree_bytes(root)
    tar = os.path.join(work, "rootfs.tar")
    stage("rootfs tarball", lambda: run_tool(["tar", "--numeric-owner", "-C", root, "--exclude=./dev/*",
                                              "-cf", tar, "."], recipe, where))
    raw = os.path.join(work, "disk.raw")
    stage("ext4 disk (mke2fs -d)", lambda: run_tool(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", root, raw, recipe.size], recipe, where))
    shutil.rmtree(root)
    shutil.rmtree(staging)
    base = os.path.join(work, "base.qcow2")
    stage("qcow2 base (qemu-img)", lambda: run_tool(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw,
                                                     base], recipe, where))
    os.unlink(raw)
    digests = stage("sha256", lambda: {name: sha256_of(os.path.join(work, name)) for name in cache.FILES})
    manifest = {"recipe": recipe.to_dict(), "kernel": kernel_version,
                "os_release": {k: release.get(k, "") for k in ("PRETTY_NAME", "VERSION_ID",
                                                                "VERSION_CODENAME")},
                "bytes": {"rootfs": rootfs_bytes, "disk_virtual": size_bytes(recipe.size),
                          **{name: allocated(os.path.join(work, name)) for name in cache.FILES}},
                "seconds": timings, "sha256": digests, "built": time.time(),
                "tools": {"mmdebstrap": _version(["mmdebstrap", "--version"])}}
    with open(os.path.join(work, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""

