"""An ASGI middleware that refuses oversized request bodies before they are read.

The Content-Length header is checked first (the client gets 413 without sending the body);
bodies without one (chunked) are counted as they arrive and cut off at the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for_path: Callable[[str], int | None]):
        self.app = app
        self.limit_for_path = limit_for_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for_path(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            response = JSONResponse(_body(limit), status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # FastAPI re-raises HTTPExceptions from body parsing; the app's handler
                # turns it into the same JSON as above.
                raise HTTPException(413, _body(limit)["error"])
            return message

        await self.app(scope, counting_receive, send)


def _body(limit: int) -> dict:
    return {
        "error": f"the request is larger than the {limit / 2**20:.0f} MB limit "
        "(serve.max_upload_mb in params.yaml)",
        "code": "too_large",
        "status": 413,
    }
