"""The `rtstyle` command line: parse here, do the work in the library.

Each sub-command is a module in rtstyle/commands/ with `add_parser(subparsers)` and
`run(args)`. Errors meant for users (RtstyleError) print as one line, exit 2.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import pkgutil
import sys

from rtstyle import __version__, commands
from rtstyle.errors import RtstyleError

# OpenCV's own FFmpeg prints its complaints ("moov atom not found") to stderr before
# rtstyle's one error line says the same; -8 is AV_LOG_QUIET. Users may still set it.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def _nearest(word: str, candidates: list[str]) -> str | None:
    near = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return near[0] if near else None


class SuggestingParser(argparse.ArgumentParser):
    """argparse with "did you mean" for mistyped flags, sub-commands and choices: the idea
    of Python 3.14's `suggest_on_error`, for 3.10+. Sub-parsers inherit the class."""

    def _check_value(self, action: argparse.Action, value: object) -> None:
        if action.choices is not None and value not in action.choices:
            near = _nearest(str(value), [str(c) for c in action.choices])
            if near:
                raise argparse.ArgumentError(
                    action, f"invalid choice: {value!r}; did you mean {near!r}?")
        super()._check_value(action, value)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            sub = self._command_parser(ns) or self
            flags = [o for a in sub._actions for o in a.option_strings]
            for extra in extras:
                near = _nearest(extra.split("=", 1)[0], flags) if extra.startswith("-") else None
                if near:
                    sub.error(f"unrecognized argument {extra}; did you mean {near}?")
            sub.error("unrecognized arguments: " + " ".join(extras))
        return ns

    def _command_parser(self, ns: argparse.Namespace) -> argparse.ArgumentParser | None:
        """The sub-command's parser, whose usage and flags fit an error in its arguments."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                sub = action.choices.get(getattr(ns, action.dest, None))
                if isinstance(sub, SuggestingParser):
                    return sub._command_parser(ns) or sub
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
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
