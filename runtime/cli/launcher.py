"""A faster ``vmvc`` executable: the interpreter starts with ``-S`` and turns ``site`` on only if needed.

Why. pip's console script runs ``python`` with ``site``: it reads ``pyvenv.cfg``, scans
site-packages for ``.pth`` files and runs them (setuptools' distutils hack, the editable-install
path), and imports ``sitecustomize``. On this host that is ~3-5 ms of a ~20 ms ``vmvc run --rm``,
for a command that needs nothing outside the standard library and ``runtime``. pip cannot put
interpreter flags in a console script's ``#!`` line, so :func:`install` writes the launcher itself::

    python -m runtime.cli.launcher            # replaces <venv>/bin/vmvc
    python -m runtime.cli.launcher PATH       # or writes it elsewhere

The launcher puts the directory holding ``runtime`` on ``sys.path`` and calls
:func:`runtime.cli.main.main`. The first import that cannot be found without ``site`` (``rich``,
``simpy``, a plugin) runs ``site.main()`` and is retried, so every command still works: only the ones
that need site-packages pay for them.

Both it and :func:`console` (usable as the ``[project.scripts]`` entry instead of
``runtime.cli.main:main``) end with :func:`exit_now`: once the command has returned and its output is
flushed, ``os._exit`` skips tearing the interpreter down (~2 ms here) -- unless something asked
to run at exit (``atexit`` callbacks) or a thread is still running, when it exits normally.
"""

from __future__ import annotations

import os
import sys

MARK = "# vmvc fast launcher"


class LazySite:
    """A last-resort import finder: on the first miss, enable ``site`` and look again."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if not enable_site():
            return None
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, path, target)


def enable_site() -> bool:
    """Run ``site.main()`` once (site-packages, ``.pth`` files); False if it already ran."""
    if LazySite in sys.meta_path:
        sys.meta_path.remove(LazySite)
    import site

    if getattr(site, "_vmvc_enabled", False):
        return False
    site._vmvc_enabled = True
    site.main()
    return True


def main() -> None:
    """The launcher's body: lazy ``site``, then the ``vmvc`` dispatcher. Plugin commands (found
    through entry points, i.e. site-packages metadata) and help get ``site`` at once."""
    if sys._getframe(1).f_globals.get("__name__") == "__mp_main__":
        return  # a multiprocessing "spawn" child re-running this script as its main module: not a command
    from runtime.cli.main import COMMANDS
    from runtime.cli.main import main as vmvc

    if sys.flags.no_site:
        if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
            enable_site()
        else:
            sys.meta_path.append(LazySite)
    exit_now(vmvc())


def console() -> None:
    """``vmvc`` as a console script (``vmvc = "runtime.cli.launcher:console"``): the dispatcher, then
    :func:`exit_now`."""
    from runtime.cli.main import main as vmvc

    exit_now(vmvc())


def exit_now(code) -> None:
    """Exit with ``code`` without the interpreter's teardown when nothing is left to run at exit."""
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left (`vmvc … | head`): what is still buffered goes nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os._exit(code if isinstance(code, int) and code else 141)
    except ValueError:
        sys.exit(code)  # let the interpreter report or swallow it as usual
    threading = sys.modules.get("threading")
    # ``atexit._ncallbacks`` is private to CPython: without it nobody can tell, so tear down as usual.
    pending = getattr(atexit, "_ncallbacks", lambda: 1)()
    if pending == 0 and (threading is None or threading.active_count() == 1):
        os._exit(code if isinstance(code, int) else 1)
    sys.exit(code)


def console_script(python: str) -> str:
    """What pip writes for ``vmvc = "runtime.cli.launcher:console"`` (``site`` on, as usual)."""
    return f"#!{python}\nimport sys\nfrom runtime.cli.launcher import console\nsys.exit(console())\n"


def script(python: str, root: str) -> str:
    """The launcher's text for interpreter ``python`` and the directory ``root`` holding ``runtime``."""
    return (
        f"#!{python} -S\n"
        f"{MARK} (python -m runtime.cli.launcher): no site until an import needs it\n"
        "import sys\n"
        f"sys.path.insert(0, {root!r})\n"
        "from runtime.cli.launcher import main\n"
        "if __name__ == \"__main__\":  # a spawn-started worker re-runs this file as __mp_main__\n"
        "    main()\n"
    )


def install(path: str | None = None, python: str | None = None, text: str | None = None) -> str:
    """Write the launcher (or ``text``) to ``path`` (default: ``vmvc`` next to the interpreter)
    atomically; returns the path."""
    import runtime

    python = python or sys.executable
    path = path or os.path.join(os.path.dirname(python), "vmvc")
    root = os.path.dirname(os.path.dirname(os.path.abspath(runtime.__file__)))
    tmp = f"{path}.vmvc-tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text if text is not None else script(python, root))
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(install(sys.argv[1] if len(sys.argv) > 1 else None))
