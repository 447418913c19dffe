"""Errors that end a request with a precise HTTP status and a JSON body, and nothing worse.

Raised anywhere below the request handler; the handler turns each into
`{"status": N, "error": reason, "message": ..., "field": ...}` and goes on serving. A client (the
Nuke bridge) shows `message` to the artist as it is, so every message names what was wrong.
"""

from __future__ import annotations


class HttpError(Exception):
    def __init__(self, status: int, reason: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict:
        body = {"status": self.status, "error": self.reason, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


def bad_request(message: str, field: str | None = None) -> HttpError:
    return HttpError(400, "bad_request", message, field)


def not_found(message: str, field: str | None = None) -> HttpError:
    return HttpError(404, "not_found", message, field)


def forbidden(message: str, field: str | None = None) -> HttpError:
    return HttpError(403, "forbidden", message, field)


def request_timeout(message: str) -> HttpError:
    return HttpError(408, "request_timeout", message, headers={"Connection": "close"})


def too_many_requests(message: str, retry_after_s: int, field: str | None = None) -> HttpError:
    """429 with `Retry-After`: the request was fine, the server is at one of its caps right now."""
    return HttpError(429, "too_many_requests", message, field, headers={"Retry-After": str(retry_after_s)})
