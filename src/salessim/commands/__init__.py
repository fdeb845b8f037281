"""Subcommands of ``salessim`` that live beside the library modules they drive.

Each module has a ``register(subparsers)`` function that ``salessim.cli`` calls.
"""

from __future__ import annotations

import argparse

#: Exit status of a command given bad input (a scenario error, a bad option).
EXIT_BAD_INPUT = 2


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """The ``--set KEY=VALUE`` option that overrides scenario keys."""
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="override a scenario key, e.g. stages.close.delay.mean=2 "
                             "(repeatable)")
