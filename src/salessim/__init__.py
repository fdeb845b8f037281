"""salessim: simulate, compare and optimise sales processes.

Leads flow through the stages of a sale as SimPy processes; sales staff are SimPy
resources; a scenario is a YAML file. The library is usable from a notebook with one
import; the ``salessim`` command is a thin shell over it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("salessim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
