"""``vmvc build``: images from a Dockerfile (docker's classic builder, RUN steps in real containers).

    >>> from runtime.build import build
    >>> from runtime.images import open_store
    >>> build(open_store(), "ctx/", open("ctx/Dockerfile").read(), tag="hello:1")   # doctest: +SKIP
"""

from runtime.build.builder import Builder, BuildError, build
from runtime.build.dockerfile import DockerfileError

__all__ = ["BuildError", "Builder", "DockerfileError", "build"]
