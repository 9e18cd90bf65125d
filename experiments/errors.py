"""The error every command-line module raises for a mistake in the user's input.

It lives apart from `experiments.cli` so that library modules (the results store) can
raise it without importing the command line, and so that `python -m experiments.cli`,
which runs cli.py as `__main__`, catches the same class the command modules raise.
"""


class UserError(Exception):
    """A mistake in the user's input: printed as one line, exit status 2."""
