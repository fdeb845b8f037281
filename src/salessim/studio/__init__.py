"""salessim studio: a local web app over the scenario files of one folder.

The files are the same the command line reads and writes; the app edits them (with the
loader's own located problems), runs them in a worker process through the public API and
compares them on common random numbers. Layers: :mod:`~salessim.studio.paths` (what may be
read or written), :mod:`~salessim.studio.files` (listing, checking, saving),
:mod:`~salessim.studio.form` and :mod:`~salessim.studio.redesign` (YAML edits),
:mod:`~salessim.studio.worker` (the simulations, in their own process),
:mod:`~salessim.studio.jobs` (the queue of runs) and :mod:`~salessim.studio.app` (the web
app). The web framework and ruamel.yaml come with the ``studio`` extra.
"""

from __future__ import annotations

import importlib.util

#: The packages of the ``studio`` extra, by import name.
EXTRA_MODULES = ("starlette", "uvicorn", "ruamel.yaml")

MISSING_MESSAGE = ("salessim studio needs the studio extra: pip install 'salessim[studio]' "
                   "(missing: {missing})")


def missing_modules() -> list[str]:
    """The packages of the ``studio`` extra that cannot be imported here."""
    missing = []
    for name in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is absent
            found = False
        if not found:
            missing.append(name)
    return missing
