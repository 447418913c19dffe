"""HTTP for the preview server: routing, the token check, status codes, the threaded server.

The standard library's `ThreadingHTTPServer` is enough: requests come from one artist's tools on
the same machine, each is handled on its own thread (so a client streaming job events never blocks
a click), and the one shared resource, the network, is serialised by `PreviewSession.model_lock`.
Answers use HTTP/1.0 (one request per connection): streaming a job's events then needs no chunked
encoding, and a loopback connection costs a fraction of a millisecond.

Every failure is answered with a JSON body (see `http_errors`) and the server goes on serving;
an unexpected exception is a 500 naming it, logged with its traceback, never a dead server. That
includes what `http.server` answers itself (a malformed request line, oversized headers): JSON
too, and never a 5xx for something the client sent (an unknown method is a 405, an HTTP version
the server does not speak a 400).

Time is bounded per request, so no client can hold a thread: the whole request (line, headers,
body) must arrive within `request_timeout_s` of the connection opening (`serve --request-timeout`;
408 otherwise, and a client sending one byte every few seconds is cut off at that deadline, not
after a per-read timeout that each byte restarts); a decode waits at most `PreviewSession.
model_wait_s` for the network (429); every answer, and each line of an event stream, must be taken
by the client within `SEND_TIMEOUT_S`. A `Content-Length` that is not a plain decimal number is a
400 at once. After each answer the server closes its sending side first and reads what the client
still sends (a body it refused unread, say) for at most `LINGER_S` and `LINGER_MAX_BYTES` before
closing: closing with bytes unread would reset the connection, and the client could lose the answer.

Requests in progress count as activity for the idle timer, and on the way out the server gives
them `SHUTDOWN_GRACE_S` to finish before it exits.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import torch

from rmpsam_plugin import __version__
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.job.precision import model_precision
from rmpsam_plugin.server.auth import is_authorised
from rmpsam_plugin.server.http_errors import (
    HttpError,
    bad_request,
    not_found,
    request_timeout,
    too_many_requests,
)
from rmpsam_plugin.server.idle import IdleTimer
from rmpsam_plugin.server.jobs import Job, JobManager
from rmpsam_plugin.server.matte_encoding import encode_matte
from rmpsam_plugin.server.request_bodies import (
    MAX_DECODE_PROMPTS,
    parse_decode_request,
    parse_job_request,
)
from rmpsam_plugin.server.sessions import NetworkBusy, PreviewSession

LOG = logging.getLogger(__name__)
LOOPBACK_HOST = "127.0.0.1"
DEFAULT_MAX_BODY_BYTES = 1 << 20  # clicks and boxes are a few hundred bytes; a megabyte is generous
DEFAULT_REQUEST_TIMEOUT_S = 10.0  # a loopback client sends a request in milliseconds
SEND_TIMEOUT_S = 30.0  # the client must take each answer (or event line) within this
LINGER_S = 2.0  # after an answer, what the client still sends is read and dropped for at most this long
LINGER_MAX_BYTES = 16 << 20  # and at most this much (an oversized body up to this: the client sees its 413)
SHUTDOWN_GRACE_S = 5.0  # requests in progress when the server stops get this long to finish
NETWORK_BUSY_RETRY_AFTER_S = 2
_LENGTH_DIGITS_MAX = 30  # a Content-Length longer than this is too large whatever its value

# path pattern -> {method: handler method name}
_ROUTES: list[tuple[re.Pattern, dict[str, str]]] = [
    (re.compile(r"^/health$"), {"GET": "_health"}),
    (re.compile(r"^/decode$"), {"POST": "_decode"}),
    (re.compile(r"^/jobs$"), {"GET": "_list_jobs", "POST": "_start_job"}),
    (re.compile(r"^/jobs/(?P<job_id>[^/]+)$"), {"GET": "_job_status", "DELETE": "_cancel_job"}),
    (re.compile(r"^/jobs/(?P<job_id>[^/]+)/events$"), {"GET": "_job_events"}),
    (re.compile(r"^/shutdown$"), {"POST": "_shutdown"}),
]


def check_loopback(host: str) -> str:
    """The only address the server binds to. Anything else would expose a process that reads the
    user's files and starts programs to the network, token or not."""
    if host in (LOOPBACK_HOST, "localhost"):
        return LOOPBACK_HOST
    raise ValueError(f"the preview server listens on {LOOPBACK_HOST} only, not on {host!r}")


class PreviewServer(ThreadingHTTPServer):
    """The server: a `PreviewSession`, a `JobManager`, a token, an idle timer."""

    daemon_threads = True

    def __init__(self, session: PreviewSession, jobs: JobManager, token: str, *, host: str = LOOPBACK_HOST,
                 port: int = 0, idle_timeout_s: float = 600.0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S, max_prompts: int = MAX_DECODE_PROMPTS) -> None:
        if request_timeout_s <= 0:
            raise ValueError(f"request timeout must be positive, got {request_timeout_s}")
        self.session = session
        self.jobs = jobs
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.request_timeout_s = request_timeout_s
        self.max_prompts = max_prompts
        self.stopping = threading.Event()
        self.stop_reason: str | None = None
        self.started_at = time.monotonic()
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        self.idle = IdleTimer(idle_timeout_s, busy=lambda: self.requests_in_flight() > 0 or jobs.has_running(),
                              on_idle=lambda: self.stop("idle"))
        super().__init__((check_loopback(host), port), PreviewRequestHandler)

    # ---- requests in progress (activity for the idle timer) --------------------------------------
    def request_started(self) -> None:
        with self._in_flight_changed:
            self._in_flight += 1
        self.idle.touch()

    def request_finished(self) -> None:
        self.idle.touch()  # the idle time counts from the end of the last request
        with self._in_flight_changed:
            self._in_flight -= 1
            self._in_flight_changed.notify_all()

    def requests_in_flight(self) -> int:
        with self._in_flight_changed:
            return self._in_flight

    def wait_for_requests(self, timeout_s: float) -> bool:
        """Wait until no request is in progress (at most `timeout_s`); True if none is."""
        with self._in_flight_changed:
            return self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout=timeout_s)

    def limits(self) -> dict:
        """What a client may ask of this server, as `/health` reports it."""
        jobs = self.jobs
        return {
            "max_body_bytes": self.max_body_bytes,
            "max_prompts_per_decode": self.max_prompts,
            "request_timeout_s": self.request_timeout_s,
            "max_running_jobs": jobs.max_running,
            "max_job_threads": jobs.max_threads,
            "job_memory_limit_bytes": jobs.memory_limit_bytes,
            "output_root": None if jobs.paths is None else str(jobs.paths.root),
        }

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}"

    def serve(self) -> str:
        """Serve until stopped (`POST /shutdown`, the idle timeout, or `stop`); returns the reason.
        Running jobs are cancelled on the way out: nobody would be left to watch them."""
        self.idle.start()
        try:
            self.serve_forever(poll_interval=0.1)
        finally:
            self.idle.stop()
            self.stopping.set()  # event streams end; other requests in progress may finish
            if not self.wait_for_requests(SHUTDOWN_GRACE_S):
                LOG.warning("stopping with %d request(s) still in progress", self.requests_in_flight())
            self.jobs.cancel_all()
            self.server_close()
        return self.stop_reason or "stopped"

    def shutdown_request(self, request: socket.socket) -> None:
        """Close a connection after its answer without resetting it (see `LINGER_S`)."""
        try:
            request.shutdown(socket.SHUT_WR)  # the client sees the end of the answer now
            deadline = time.monotonic() + LINGER_S
            dropped = 0
            while dropped < LINGER_MAX_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                request.settimeout(left)
                chunk = request.recv(1 << 16)
                if not chunk:
                    break
                dropped += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request, client_address) -> None:
        """A connection that broke outside a request's own handling: logged, not printed."""
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)

    def stop(self, reason: str) -> None:
        """Ask `serve` to return. Safe from any thread, including a request handler's."""
        if self.stopping.is_set():
            return
        self.stop_reason = reason
        self.stopping.set()
        threading.Thread(target=self.shutdown, name="server-shutdown", daemon=True).start()


class RequestDeadline(TimeoutError):
    """The request did not arrive whole before its deadline."""


class _DeadlineReader(io.RawIOBase):
    """The connection's bytes, each read given only the time left before the handler's deadline.

    A socket timeout alone restarts with every byte received; this makes it one deadline for the
    whole request, however the client spaces its bytes."""

    def __init__(self, connection: socket.socket, handler: PreviewRequestHandler) -> None:
        super().__init__()
        self._connection = connection
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._handler.read_deadline - time.monotonic()
        if left <= 0:
            raise RequestDeadline("request deadline passed")
        self._connection.settimeout(left)
        try:
            return self._connection.recv_into(buffer)
        except TimeoutError:
            raise RequestDeadline("request deadline passed") from None


class PreviewRequestHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = f"rmpsam-matte-preview/{__version__}"
    timeout = SEND_TIMEOUT_S  # replaced by the request deadline while reading (`_DeadlineReader`)
    read_deadline = 0.0
    # what http.server sets while parsing, for answers given before (or while) a request line arrives
    requestline, request_version, command = "", "HTTP/1.0", ""

    def setup(self) -> None:
        super().setup()
        self.read_deadline = time.monotonic() + self.server.request_timeout_s
        self.rfile.close()  # the socket's own reader: closed, or it would keep the socket open after the request
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self))

    # ---- one request -------------------------------------------------------------------------
    def handle_one_request(self) -> None:
        """`http.server`'s own, with the deadline, JSON for its refusals, and every method routed
        (an unknown one is a 405 naming the allowed ones, not a 501)."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "request line longer than 65536 bytes")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return  # answered by send_error
            if self.request_version == "HTTP/0.9":
                self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not accepted: send HTTP/1.0 or HTTP/1.1")
                return
            self._dispatch(self.command)
            self.wfile.flush()
        except RequestDeadline:  # raised by reads only, so nothing of an answer has been sent
            self.close_connection = True
            self._try_send(request_timeout(self._deadline_message()))
        except (TimeoutError, OSError):  # the client stopped reading, or went away: nobody to answer
            self.close_connection = True

    def _deadline_message(self, body: str = "") -> str:
        return (f"the request did not arrive whole within {self.server.request_timeout_s:g} s of the connection "
                f"opening{body}; the connection is closed")

    def _try_send(self, error: HttpError) -> None:
        try:
            self._send_json(error.status, error.body(), error.headers)
        except OSError:
            pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """`http.server`'s refusals (malformed request line, oversized headers...) as JSON. An HTTP
        version it does not speak is the client's error here: 400, not 505."""
        if code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = HTTPStatus.BAD_REQUEST, f"{message}: send HTTP/1.0 or HTTP/1.1"
        self.close_connection = True
        status = HTTPStatus(code)
        text = message or status.phrase
        if explain and explain not in text:
            text = f"{text}: {explain}"
        if len(text) > 500:  # http.server quotes the whole request line
            text = text[:500] + "..."
        reason = status.phrase.lower().replace(" ", "_").replace("-", "_")
        self._send_json(status.value, {"status": status.value, "error": reason, "message": text},
                        {"Connection": "close"})

    # ---- dispatch -----------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        authorised = False
        try:
            if not is_authorised(self.headers.get_all("Authorization"), self.server.token):
                raise HttpError(401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>' "
                                "with the token the server printed or wrote to its token file, exactly",
                                headers={"WWW-Authenticate": "Bearer"})
            authorised = True
            self.server.request_started()
            self._declared_length()  # a malformed length is refused whatever the endpoint
            handler_name, parameters = self._route(method)
            getattr(self, handler_name)(**parameters)
        except HttpError as error:
            self._send_json(error.status, error.body(), error.headers)
        except InputError as error:  # the plate frame exists but cannot be used
            self._send_json(422, {"status": 422, "error": "unprocessable", "message": str(error)})
        except NetworkBusy as error:
            busy = too_many_requests(str(error), NETWORK_BUSY_RETRY_AFTER_S)
            self._send_json(busy.status, busy.body(), busy.headers)
        except (TimeoutError, ConnectionError):  # the client stopped reading the answer, or went away
            self.close_connection = True
            LOG.debug("client of %s %s went away or stopped reading", method, self.path)
        except Exception as error:  # a bug: answer it, log it, keep serving
            LOG.exception("internal error answering %s %s", method, self.path)
            self._send_json(500, {"status": 500, "error": "internal", "message": f"{type(error).__name__}: {error}"})
        finally:
            if authorised:
                self.server.request_finished()

    def _route(self, method: str) -> tuple[str, dict[str, str]]:
        try:
            path = urlsplit(self.path).path
        except ValueError as error:  # e.g. 'http://[::1' (absolute form with a broken host)
            raise bad_request(f"cannot parse the request target {self.path[:200]!r}: {error}") from None
        for pattern, methods in _ROUTES:
            match = pattern.match(path)
            if match:
                if method not in methods:
                    allowed = ", ".join(sorted(methods))
                    raise HttpError(405, "method_not_allowed", f"{method[:40]} is not allowed on {path}; "
                                    f"allowed: {allowed}", headers={"Allow": allowed})
                return methods[method], match.groupdict()
        raise not_found(f"no such endpoint: {path[:200]}")

    # ---- request bodies --------------------------------------------------------------------
    def _declared_length(self) -> int | None:
        """The body's length from `Content-Length`, None without one; 400 unless it is one plain
        decimal number (no sign, no second differing header, not beside `Transfer-Encoding`)."""
        values = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None:
            if values:
                raise bad_request("Content-Length and Transfer-Encoding together: send the JSON body with "
                                  "Content-Length only")
            raise HttpError(411, "length_required", "Transfer-Encoding is not accepted: send the JSON body with a "
                            "Content-Length header")
        if not values:
            return None
        texts = {value.strip() for value in values}
        if len(texts) > 1:
            raise bad_request(f"several different Content-Length headers: {', '.join(sorted(map(repr, texts)))[:200]}")
        text = texts.pop()
        if not (text.isascii() and text.isdigit()):
            raise bad_request(f"Content-Length must be a whole number of bytes, 0 or more; got {text[:40]!r}")
        if len(text) > _LENGTH_DIGITS_MAX:
            return self.server.max_body_bytes + 1 + len(text)  # over any limit; its value needs no converting
        return int(text)

    def _json_body(self) -> dict:
        length = self._declared_length()
        if length is None:
            raise HttpError(411, "length_required", "a JSON body with a Content-Length header is required")
        if length > self.server.max_body_bytes:
            declared = self.headers["Content-Length"].strip()
            raise HttpError(413, "payload_too_large",
                            f"body of {declared[:40]} bytes is over the limit of {self.server.max_body_bytes} bytes")
        raw = self._read_body(length)
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise bad_request(f"body is not UTF-8: {error}") from None
        except json.JSONDecodeError as error:
            raise bad_request(f"body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
        except RecursionError:  # '[[[[...' a few thousand deep: valid JSON, but no request is shaped so
            raise bad_request("body is not usable JSON: arrays or objects nested too deeply") from None
        except ValueError as error:  # e.g. an integer of more digits than Python converts (4300)
            raise bad_request(f"body is not usable JSON: {error}") from None
        if not isinstance(body, dict):
            raise bad_request(f"body must be a JSON object, got {type(body).__name__}")
        return body

    def _read_body(self, length: int) -> bytes:
        """Exactly `length` bytes, before the request's deadline: 408 past it, 400 if the client
        closes first."""
        chunks: list[bytes] = []
        received = 0
        try:
            while received < length:
                chunk = self.rfile.read1(min(length - received, 1 << 16))
                if not chunk:
                    raise bad_request(f"the body ended after {received} of the {length} bytes its Content-Length "
                                      f"announced")
                chunks.append(chunk)
                received += len(chunk)
        except RequestDeadline:
            raise request_timeout(self._deadline_message(f" (body: {received} of {length} bytes)")) from None
        return b"".join(chunks)

    # ---- answers ------------------------------------------------------------------------------
    def send_response(self, code: int, message: str | None = None) -> None:
        self.connection.settimeout(SEND_TIMEOUT_S)  # reads had the deadline's time left; writes get their own
        super().send_response(code, message)

    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        if self.request_version == "HTTP/0.9":  # http.server's default before a request line is parsed:
            self.request_version = "HTTP/1.0"  # answered with a status line and headers all the same
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        LOG.debug("%s - %s", self.address_string(), format % args)

    # ---- endpoints ---------------------------------------------------------------------------
    def _health(self) -> None:
        session = self.server.session
        size = session.predictor.size
        jobs = self.server.jobs.all()
        self._send_json(200, {
            "status": "ok",
            "version": __version__,
            "pid": os.getpid(),
            "plate": session.frames.summary.as_dict(),
            "inference_size": {"short_side": size.short_side, "max_long_side": size.max_long_side},
            "network_hw": list(session.frames.geometry.network_hw),
            "device": str(session.predictor.device),
            "precision": model_precision(session.predictor.model),
            "threads": torch.get_num_threads(),
            "cached_frames": session.cached_frames(),
            "jobs": {"running": sum(not job.finished for job in jobs), "total": len(jobs)},
            "idle_timeout_s": self.server.idle.timeout_s,
            "uptime_s": round(time.monotonic() - self.server.started_at, 3),
            "limits": self.server.limits(),
        })

    def _decode(self) -> None:
        session = self.server.session
        request = parse_decode_request(self._json_body(), session.frames.summary, self.server.max_prompts)
        if not session.frames.has_frame(request.frame):
            raise not_found(f"frame {request.frame} is not in the plate {session.frames.summary.pattern} "
                            f"({session.frames.describe_range()})", "frame")
        result = session.decode(request)
        encode_start = time.perf_counter()
        encoded = encode_matte(result.matte, request.encoding)
        timings = dict(result.timings_ms, encode=round((time.perf_counter() - encode_start) * 1e3, 3))
        height, width = result.matte.shape
        self._send_json(200, {
            "frame": result.frame,
            "width": width,
            "height": height,
            "encoding": request.encoding,
            "matte": encoded,
            "iou": result.iou,
            "features_cached": result.features_were_cached,
            "timing_ms": timings,
        })

    def _list_jobs(self) -> None:
        self._send_json(200, {"jobs": [job.snapshot() for job in self.server.jobs.all()]})

    def _start_job(self) -> None:
        job = self.server.jobs.start(parse_job_request(self._json_body()))
        self._send_json(202, job.snapshot(), {"Location": f"/jobs/{job.id}"})

    def _job(self, job_id: str) -> Job:
        job = self.server.jobs.get(job_id)
        if job is None:
            known = ", ".join(job.id for job in self.server.jobs.all()) or "none"
            raise not_found(f"no job '{job_id}' (jobs: {known})")
        return job

    def _job_status(self, job_id: str) -> None:
        self._send_json(200, self._job(job_id).snapshot())

    def _cancel_job(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.finished:
            raise HttpError(409, "conflict", f"job {job_id} has already finished ({job.snapshot()['state']})")
        job.cancel()
        self._send_json(200, job.snapshot())

    def _job_events(self, job_id: str) -> None:
        job = self._job(job_id)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for event in job.iter_events(self.server.stopping):
            self.wfile.write(json.dumps(event).encode("utf-8") + b"\n")
            self.wfile.flush()

    def _shutdown(self) -> None:
        self._send_json(200, {"status": "stopping"})
        self.server.stop("shutdown requested")
