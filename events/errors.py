"""Errors shared by every stage.

Each carries a one-line message that names the input and says what to do,
because it is what an operator sees in the log or on the terminal.
"""


class LivewatchError(Exception):
    """Base class: a problem the user can act on, with a one-line message."""


class SourceError(LivewatchError):
    """A stream source cannot be opened or read (bad URL, not video, gone)."""


class ConfigError(LivewatchError):
    """Configuration, a rule file or a model path is wrong or missing."""
