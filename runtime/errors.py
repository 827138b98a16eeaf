"""Errors that carry the docker-compatible exit code a CLI should end with.

Docker's convention: 125 the engine itself failed (bad flag, unknown image), 126 the command
cannot be invoked, 127 the command was not found, 128+n the process died of signal n.
"""


class VmvcError(Exception):
    """An error with a one-line message for the user and an exit code."""

    exit_code = 125

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(VmvcError):
    """The command line itself is wrong (unknown command, bad flag)."""

    exit_code = 2


class NotFound(VmvcError):
    """A named thing (image, container, kernel) does not exist."""

    exit_code = 125


class Conflict(VmvcError):
    """The request clashes with current state (name in use, image in use)."""

    exit_code = 125
