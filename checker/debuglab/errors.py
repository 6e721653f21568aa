"""Errors that reach the user as one line, never as a traceback."""


class DebuglabError(Exception):
    """Bad input or usage: printed as one line, exit code 2."""

    exit_code = 2
