"""``vmvc doctor``: what this host can do, each answer with the evidence read or tried.

>>> from runtime.doctor import host
>>> host().ready("overlayfs")   # doctest: +SKIP
True
"""

from runtime.doctor.probe import host, probe
from runtime.doctor.report import DEGRADED, MISSING, READY, Check, Report

__all__ = ["Check", "Report", "probe", "host", "READY", "DEGRADED", "MISSING"]
