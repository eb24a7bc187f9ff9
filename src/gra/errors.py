"""Errors a user can cause and fix. The CLI prints their message without a traceback."""


def error_body(message: str, code: str, status: int | None = None) -> dict:
    """The one shape of an error a client sees: {"error", "code", "status"} (HTTP answers,
    `gra predict` rows, batch entries). `status` is left out where there is no HTTP status."""
    body = {"error": message, "code": code}
    return body if status is None else body | {"status": status}


class UserError(Exception):
    """Something about the input or settings is wrong; the message says what to do."""


class DataValidationError(UserError):
    """Data failed a Great Expectations suite; the message names columns, values and rows."""


class GateFailed(UserError):
    """The candidate did not pass the evaluation gate; nothing was promoted."""


class OutdatedModel(UserError):
    """A saved model in a format this GRA no longer reads; the message says to retrain."""
