"""Errors that reach the user as one line, never as a traceback."""


class DebuglabError(Exception):
    """Bad input or usage: printed as one line, exit code 2."""

    exit_code = 2


class CheckerFault(DebuglabError):
    """debuglab itself failed (a probe, the harness, a lab's own reference fix): never blamed on
    the learner's script; exit code 4."""

    exit_code = 4
