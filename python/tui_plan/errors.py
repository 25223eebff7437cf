"""tui_plan.errors: what the package raises and warns."""

import os
import sys
import warnings

__all__ = ["PlanError", "PatternError", "PlanWarning"]

_HERE = os.path.dirname(os.path.abspath(__file__))


class PlanError(ValueError):
    """The plan cannot be applied (the message says why and what to do)."""


class PatternError(PlanError):
    """A pattern that does not compile; `column` is the 1-based byte
    column of the offending character, as the C core reports it."""

    def __init__(self, what, column):
        super().__init__("%s at column %d" % (what, column))
        self.column = column


class PlanWarning(UserWarning):
    """Something the plan did that the caller should know about."""


def _warn(message):
    """warnings.warn(PlanWarning) attributed to the first caller outside
    this module."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and \
            os.path.dirname(frame.f_code.co_filename) == _HERE:
        level += 1
        frame = frame.f_back
    warnings.warn(message, PlanWarning, stacklevel=level)


class _Fail(Exception):
    def __init__(self, column, what):
        super().__init__(what)
        self.column, self.what = column, what
