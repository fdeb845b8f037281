"""salessim: simulate, compare and optimise sales processes.

Leads flow through the stages of a sale as SimPy processes; sales staff are SimPy
resources; a scenario is a YAML file. The library is usable from a notebook with one
import; the ``salessim`` command is a thin shell over it.
"""

def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for
    (importing importlib.metadata costs a tenth of a second that ``salessim --help`` need
    not pay)."""
    if name != "__version__":
        raise AttributeError(f"module 'salessim' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("salessim")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
