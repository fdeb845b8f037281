"""``salessim studio``: the local web app over a folder of scenario files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from salessim.errors import UsageError


def cmd_studio(args: argparse.Namespace) -> int:
    """Start the studio over FOLDER (its address, with the access token, goes to stdout)."""
    from salessim.studio import MISSING_MESSAGE, missing_modules

    missing = missing_modules()
    if missing:
        raise UsageError(MISSING_MESSAGE.format(missing=", ".join(missing)))
    from salessim.studio.server import LOCAL, serve

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"studio: {folder} is not a folder")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535, got {args.port}")
    if args.host != LOCAL:
        print(f"warning: the studio listens on {args.host}, not only on this machine "
              f"({LOCAL}): anyone who can reach it and has the token can read and write the "
              f"scenario files of {folder}", file=sys.stderr)
    try:
        serve(folder, args.host, args.port, open_browser=not args.no_browser)
    except OSError as exc:
        raise UsageError(f"studio: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}") from None
    except KeyboardInterrupt:  # Ctrl-C is how the studio is stopped: not a failure
        pass
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``studio`` command."""
    p = sub.add_parser("studio", help="edit, run and compare the scenarios of a folder in "
                                      "the browser (needs the studio extra)")
    p.add_argument("folder", nargs="?", default=".", metavar="FOLDER",
                   help="the folder whose files it serves (default: this one)")
    p.add_argument("--port", type=int, default=0, help="default: a free one")
    p.add_argument("--host", default="127.0.0.1",
                   help="listen on this address (default 127.0.0.1, this machine only)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_studio)
