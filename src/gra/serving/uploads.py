"""Uploads: size-limited, written to a private temporary file that is always deleted.

Nothing the client sends (file name, content type) is used to build a path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from gra.serving.predictor import InputRejected

_CHUNK = 1 << 20


def too_large(limit_bytes: int) -> InputRejected:
    return InputRejected(
        f"the upload is larger than the {limit_bytes / 2**20:g} MB limit "
        "(serve.max_upload_mb in params.yaml)",
        413,
        "too_large",
    )


@contextlib.contextmanager
def spooled_upload(stream: BinaryIO, limit_bytes: int) -> Iterator[Path]:
    """Copy an upload to a fresh temporary file (at most `limit_bytes`), yield its path and
    delete it afterwards, whatever happens in between."""
    fd, name = tempfile.mkstemp(prefix="gra-upload-", suffix=".bin")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > limit_bytes:
                    raise too_large(limit_bytes)
                out.write(chunk)
        if size == 0:
            raise InputRejected("the upload is empty (0 bytes)", 400, "empty_upload")
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
