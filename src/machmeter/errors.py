"""Errors that machmeter reports as one line (exit status 2), never as a traceback."""


class MachmeterError(Exception):
    """Bad input or usage: the message says what and where."""


class ResultsError(MachmeterError):
    """A results file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
