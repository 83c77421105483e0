"""Error answers: a short JSON body saying what was wrong, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """The one way to refuse a request: raise it anywhere below a handler.

    `json_errors` answers it as `{"error": message, **fields}` with `status` and
    `headers` (`Retry-After`, `WWW-Authenticate`, …). A route that answers HTML (the
    run and PR pages) registers a renderer under `HTML_ERRORS`; `title` is the page's
    heading when the error is shown as a page.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.title = title
        self.fields = fields

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.fields}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers)


# Renders an `ApiError` as an HTML page for the routes that answer HTML; None: JSON.
HtmlErrors = Callable[[web.Request, ApiError], web.StreamResponse | None]
HTML_ERRORS: web.AppKey[HtmlErrors] = web.AppKey("html_errors")


def _answer(request: web.Request, exc: ApiError) -> web.StreamResponse:
    html = request.app.get(HTML_ERRORS)
    page = html(request, exc) if html is not None else None
    return page if page is not None else exc.response()


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer `ApiError`s and aiohttp's HTTP errors as JSON, anything unexpected a bare 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _answer(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        # a 405 must say which methods the route takes
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return ApiError(exc.status, exc.reason, headers=allow).response()
    except web.RequestPayloadError:  # a body whose gzip/deflate stream is broken, read lazily
        broken = "the body could not be read: its content encoding is broken"
        return ApiError(400, broken).response()
    except ConnectionError as exc:
        if not _client_gone(request):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return ApiError(500, "internal error").response()
        # The client left mid-answer: nothing went wrong here. 499 is never sent (the
        # connection is gone); it is what the access log shows.
        log.info("client left during %s %s: %s", request.method, request.path, exc or "")
        return web.Response(status=499)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return ApiError(500, "internal error").response()


def _client_gone(request: web.Request) -> bool:
    """The connection to the client is closed: a `ConnectionError` was its leaving."""
    transport = request.transport
    return transport is None or transport.is_closing()


class MalformedRequests(logging.Filter):
    """aiohttp's own logging of requests its HTTP parser refuses, made one quiet line.

    Such a request (a control character in a header, a bad chunk size, a line over
    8 KB) never reaches the app: aiohttp answers it 400 itself and logs the parser's
    error at ERROR with a traceback whose message quotes the offending line, which
    may be an `Authorization` header. A body whose gzip or deflate stream is broken
    is answered 400 by `json_errors`, and aiohttp logs it again with a traceback when
    it drains the rest. Both are the client's fault, so they are logged at INFO
    naming only the kind of error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (HttpProcessingError, web.RequestPayloadError)):
            args = record.args if isinstance(record.args, tuple) else ()
            record.msg = "refused a malformed HTTP request%s: %s"
            record.args = (f" from {args[0]}" if args else "", type(exc).__name__)
            record.exc_info = record.exc_text = None
            if record.levelno > logging.INFO:  # a first bad method is already DEBUG
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def setup(app: web.Application) -> None:
    """Quieten aiohttp's server logger (once per process: the logger is global)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequests) for f in server.filters):
        server.addFilter(MalformedRequests())
