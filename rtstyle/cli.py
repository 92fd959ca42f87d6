"""The `rtstyle` command line: parse here, do the work in the library.

Each sub-command is a module in rtstyle/commands/ with `add_parser(subparsers)` and
`run(args)`. Errors meant for users (RtstyleError) print as one line, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from rtstyle import __version__, commands
from rtstyle.errors import RtstyleError

# OpenCV's own FFmpeg prints its complaints ("moov atom not found") to stderr before
# rtstyle's one error line says the same; -8 is AV_LOG_QUIET. Users may still set it.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtstyle", description="Real-time neural style transfer for webcams and videos.")
    parser.add_argument("--version", action="version", version=f"rtstyle {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"rtstyle.commands.{info.name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except RtstyleError as e:
        print(f"rtstyle: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rtstyle: interrupted; no partial output was kept", file=sys.stderr)
        return 130
