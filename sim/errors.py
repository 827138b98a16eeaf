"""The one exception the simulation raises for bad input (unknown profile, bad numbers).

It is a ``ValueError`` so notebooks get a normal Python error; the CLI prints its message on one
line and exits 2.
"""


class SimError(ValueError):
    """Bad input to the simulation: an unknown profile or scenario, a malformed file, a bad number."""
