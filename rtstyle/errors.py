"""The one exception type users see: its message is a single line naming the problem and the fix."""


class RtstyleError(Exception):
    """A problem with the user's input or machine. The CLI prints it as one line, no traceback."""
