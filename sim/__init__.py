"""A SimPy model of VM boot versus container start on a host with finite resources.

Pure Python: no root, no Linux, no import of ``runtime``.
"""

__version__ = "0.1.0"
