"""vmvc's real parts: a minimal container engine and VM launchers, on a real Linux kernel.

The library is the product; ``vmvc`` (``runtime.cli``) and the daemon are thin clients of it.
"""

__version__ = "0.1.0"
