"""The one exception type users see: its message is a single line naming the problem and the fix."""

import importlib


class RtstyleError(Exception):
    """A problem with the user's input or machine. The CLI prints it as one line, no traceback."""


def require_extra(module: str, extra: str, doing: str) -> None:
    """Import `module` or say, in one line, which extra brings it: the light install
    (`pip install rtstyle`) runs styles without torch, and only making them needs it."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise RtstyleError(f"{doing} needs {module}, which the light install leaves out; "
                           f'pip install "rtstyle[{extra}]"') from None
