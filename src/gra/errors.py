"""Errors a user can cause and fix. The CLI prints their message without a traceback."""


class UserError(Exception):
    """Something about the input or settings is wrong; the message says what to do."""


class DataValidationError(UserError):
    """Data failed a Great Expectations suite; the message names columns, values and rows."""


class GateFailed(UserError):
    """The candidate did not pass the evaluation gate; nothing was promoted."""
