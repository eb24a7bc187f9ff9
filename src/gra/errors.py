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


# What a shared library that cannot be loaded looks like (ctypes/cffi dlopen, a compiled
# module's missing dependency): an environment problem, not a bug in the data or in GRA.
_LIBRARY_FAILURES = ("cannot load library", "cannot open shared object file", "undefined symbol")


def environment_problem(exc: BaseException) -> str | None:
    """The message for an error that comes from the Python environment itself (a package or
    native library missing or built for another machine), or None for any other error."""
    if isinstance(exc, ImportError) or (
        isinstance(exc, OSError) and any(s in str(exc) for s in _LIBRARY_FAILURES)
    ):
        return (
            f"the Python environment is incomplete ({type(exc).__name__}: {exc}). GRA's "
            "environment comes from requirements/lock.txt, whose wheels bundle every native "
            "library: rebuild it with `rm -rf .venv && make demo` (README: Quick start)"
        )
    return None
