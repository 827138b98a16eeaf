"""The README's quick start and tour, run in order exactly as written, each line checked (issue 11).

Every command line of the two ``sh`` blocks is run with ``bash -c`` in a temp directory, on a temp state
root, with ``.venv/bin`` first on ``PATH`` (what ``scripts/setup.sh`` leaves you with). Each must exit 0
and print what the README says it does (:data:`EXPECT`). A README line this file does not know fails the
test: a README change needs its tour check, so the tour cannot drift from what the commands do.

Two quick-start lines are not run as written: ``.venv/bin/pytest`` is this very run, and ``vmvc bench
--quick`` (minutes) runs one suite (``--suite startup``) so the test stays within the suite's budget.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.terminal import read_until_exit
from tests.containers.conftest import REAL, engine  # noqa: F401 (fixture: temp state root, leak check)
from tests.vm.conftest import guest_kernel  # noqa: F401 (fixture: the cached guest kernel)

pytestmark = [*REAL, pytest.mark.qemu, pytest.mark.kvm]

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
VENV_BIN = str(Path(sys.executable).parent)
RELEASE = os.uname().release

# command line as written -> substrings its output (stdout + stderr) must contain
EXPECT: dict[str, list[str]] = {
    # quick start
    "bash scripts/setup.sh && .venv/bin/vmvc bench --quick": [],
    "bash scripts/setup.sh && .venv/bin/pytest": [],
    # the tour
    "vmvc doctor": ["vmvc doctor", "ready", "what to do"],
    "vmvc run --rm busybox uname -r": [RELEASE],
    "vmvc run --rm hello-world": ["Hello from vmvc!", "no guest kernel to boot"],
    "vmvc run -d --name web -m 64m --pids-limit 50 --cpus 0.5 busybox sleep 300": [],
    "vmvc ps; vmvc exec web ps; vmvc logs web; vmvc stats --no-stream web; vmvc stop web; vmvc rm web":
        ["CONTAINER ID", "web", "sleep 300", "PID", "/ 64MiB", "MEM %"],
    "vmvc system stop": ["spawner stopped"],
    "vmvc run -it --rm busybox sh": ["/ # "],
    "vmvc run --rm --init busybox sh -c 'ps -o pid,comm'": ["1 vmvc-init", "2 ps"],
    "vmvc images; vmvc image inspect busybox; vmvc system df":
        ["REPOSITORY", "busybox", '"RepoTags"', "TYPE"],
    "tar -cf rootfs.tar -C /bin busybox; vmvc import rootfs.tar myimage:1": ["sha256:"],
    "vmvc run --rm myimage:1 /busybox echo imported": ["imported"],
    "vmvc save -o busybox.tar busybox; vmvc load -i busybox.tar": ["Loaded image: busybox:latest"],
    "vmvc vm accel": ["tcg"],
    "vmvc vm boot --machine all --services 8 --plot boot.png": ["microvm", "pc", "q35", "kernel"],
    "vmvc vm pyvmm --guest all --mode all --trace": ["exit"],
    "vmvc sim storm --profile kvm-typical,crun -n 16 --plot --out storm":
        ["all on one host", "kvm-typical", "crun"],
    "vmvc sim sweep storm --profile tcg-this-kind,crun --n 1,2,4,8,16 --seeds 5":
        ["50 runs", "tcg-this-kind"],
}
# what a line leaves behind, checked after it ran
FILES = {
    "vmvc vm boot --machine all --services 8 --plot boot.png": ["boot.png"],
    "vmvc sim storm --profile kvm-typical,crun -n 16 --plot --out storm": ["storm/storm-cdf.png"],
    "vmvc save -o busybox.tar busybox; vmvc load -i busybox.tar": ["busybox.tar"],
}
NOT_RUN = {"bash scripts/setup.sh && .venv/bin/pytest": "this test is part of that run"}
AS_RUN = {  # the bench report takes minutes; one suite shows the line works
    "bash scripts/setup.sh && .venv/bin/vmvc bench --quick":
        "bash scripts/setup.sh && .venv/bin/vmvc bench --quick --suite startup --out {tmp}/report",
}


def commands(section: str) -> list[str]:
    """The command lines of the first ``sh`` block under ``## <section>``, comments removed."""
    text = README.read_text()
    start = text.index(f"## {section}")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S).group(1)
    lines = [re.split(r"\s{2,}#", line)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def tour() -> list[str]:
    return commands("Quick start") + commands("A tour")


def test_every_readme_command_has_its_check():
    unknown = [line for line in tour() if line not in EXPECT]
    assert not unknown, f"README commands without a check in tests/test_readme_tour.py: {unknown}"


def _run(line: str, cwd: Path, env: dict) -> tuple[int, str]:
    if " -it " in f" {line} ":
        pid, fd = _pty(line, cwd, env)
        code, out = read_until_exit(pid, fd, timeout=300, send=b"exit\r", after=b"# ")
        return code, out.decode(errors="replace")
    cmd = AS_RUN.get(line, line).format(tmp=cwd)
    r = subprocess.run(["bash", "-c", cmd], cwd=REPO if cmd.startswith("bash scripts") else cwd, env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    return r.returncode, r.stdout + r.stderr


def _pty(line: str, cwd: Path, env: dict):
    """``line`` on a fresh pty: stdin, stdout and stderr are its slave and it is the controlling
    terminal (set up by hand rather than by ``pty.fork``, so nothing the test process inherited or
    left behind can stand in for the terminal)."""
    import fcntl
    import termios

    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            if slave > 2:
                os.close(slave)
            if master > 2:
                os.close(master)
            os.chdir(cwd)
            os.execve("/bin/bash", ["bash", "-c", line], env)
        finally:
            os._exit(127)
    os.close(slave)
    return pid, master


def test_the_tour_as_written(engine, guest_kernel, tmp_path, vmvc_root):  # noqa: F811
    kernels = vmvc_root / "kernels"  # the kernel `vm boot` would fetch: seeded from the test cache
    kernels.mkdir()
    for f in Path(guest_kernel.path).parent.iterdir():
        shutil.copy(f, kernels / f.name)
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "VMVC_ROOT": str(vmvc_root)}
    work = tmp_path / "work"
    work.mkdir()
    for line in tour():
        if line in NOT_RUN:
            continue
        code, out = _run(line, work, env)
        assert code == 0, f"{line!r} exited {code}:\n{out[-3000:]}"
        for want in EXPECT[line]:
            assert want in out, f"{line!r} did not print {want!r}:\n{out[-3000:]}"
        for path in FILES.get(line, []):
            assert (work / path).exists(), f"{line!r} did not write {path}"
    engine.shutdown()
