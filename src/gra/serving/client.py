"""`gra predict`: many recordings through the champion, locally or via a running service."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gra.errors import UserError, error_body
from gra.serving.predictor import InputRejected, Predictor

AUDIO_SUFFIXES = {".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".webm", ".m4a", ".aac", ".mp4"}


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders searched recursively for audio files (sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
            )
        else:
            out.append(path)  # missing files become error results, not a crash
    return out


def _unreadable(path: Path) -> dict | None:
    if not path.exists():
        return error_body(f"{path} does not exist", "not_found")
    if not path.is_file():
        return error_body(f"{path} is not a file", "not_a_file")
    return None


def predict_local(
    predictor: Predictor, files: list[Path], chunk: int = 16, progress: Callable | None = None
) -> Iterator[dict]:
    """Results in file order; models run once per chunk of files."""
    for start in range(0, len(files), chunk):
        part = files[start : start + chunk]
        problems = {p: _unreadable(p) for p in part}
        results = iter(
            predictor.predict_many([p for p in part if problems[p] is None], origin="cli")
        )
        for path in part:
            result = problems[path] or next(results)
            if isinstance(result, InputRejected):
                result = result.to_dict()
            yield {"path": str(path), **result}
            if progress:
                progress(1)


def predict_remote(
    url: str, files: list[Path], timeout: float = 120.0, progress: Callable | None = None
) -> Iterator[dict]:
    """POST each file to `<url>/predict` of a running service (one connection, kept alive)."""
    import httpx

    endpoint = url.rstrip("/") + "/predict"
    with httpx.Client(timeout=timeout) as client:
        for path in files:
            problem = _unreadable(path)
            if problem:
                result = problem
            else:
                try:
                    with path.open("rb") as handle:
                        response = client.post(endpoint, files={"audio": (path.name, handle)})
                except httpx.HTTPError as exc:
                    raise UserError(f"cannot reach the service at {url}: {exc}") from exc
                result = _json(response)
            yield {"path": str(path), **result}
            if progress:
                progress(1)


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return error_body(
        f"unexpected HTTP {response.status_code} response: {response.text[:200]}",
        "bad_response",
        response.status_code,
    )
