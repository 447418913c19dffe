"""HTTP for the preview server: routing, the token check, status codes, the threaded server.

The standard library's `ThreadingHTTPServer` is enough: requests come from one artist's tools on
the same machine, each is handled on its own thread (so a client streaming job events never blocks
a click), and the one shared resource, the network, is serialised by `PreviewSession.model_lock`.
Answers use HTTP/1.0 (one request per connection): streaming a job's events then needs no chunked
encoding, and a loopback connection costs a fraction of a millisecond.

Every failure is answered with a JSON body (see `http_errors`) and the server goes on serving;
an unexpected exception is a 500 naming it, logged with its traceback, never a dead server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import torch

from rmpsam_plugin import __version__
from rmpsam_plugin.errors import InputError
from rmpsam_plugin.server.auth import is_authorised
from rmpsam_plugin.server.http_errors import HttpError, bad_request, not_found
from rmpsam_plugin.server.idle import IdleTimer
from rmpsam_plugin.server.jobs import Job, JobManager
from rmpsam_plugin.server.matte_encoding import encode_matte
from rmpsam_plugin.server.request_bodies import parse_decode_request, parse_job_request
from rmpsam_plugin.server.sessions import PreviewSession

LOG = logging.getLogger(__name__)
LOOPBACK_HOST = "127.0.0.1"
DEFAULT_MAX_BODY_BYTES = 1 << 20  # clicks and boxes are a few hundred bytes; a megabyte is generous
_DRAIN_LIMIT_BYTES = 16 << 20  # an oversized body up to this is read and dropped so the client sees the 413

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
                 port: int = 0, idle_timeout_s: float = 600.0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.session = session
        self.jobs = jobs
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.stopping = threading.Event()
        self.stop_reason: str | None = None
        self.started_at = time.monotonic()
        self.idle = IdleTimer(idle_timeout_s, busy=jobs.has_running, on_idle=lambda: self.stop("idle"))
        super().__init__((check_loopback(host), port), PreviewRequestHandler)

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
            self.jobs.cancel_all()
            self.server_close()
        return self.stop_reason or "stopped"

    def stop(self, reason: str) -> None:
        """Ask `serve` to return. Safe from any thread, including a request handler's."""
        if self.stopping.is_set():
            return
        self.stop_reason = reason
        self.stopping.set()
        threading.Thread(target=self.shutdown, name="server-shutdown", daemon=True).start()


class PreviewRequestHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = f"rmpsam-matte-preview/{__version__}"
    timeout = 30.0  # seconds a client may take to send its request; a stuck one frees its thread

    # ---- dispatch -----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - answered 405, not http.server's 501
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        try:
            if not is_authorised(self.headers.get("Authorization"), self.server.token):
                raise HttpError(401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>' "
                                "with the token the server printed or wrote to its token file",
                                headers={"WWW-Authenticate": "Bearer"})
            self.server.idle.touch()
            handler_name, parameters = self._route(method)
            getattr(self, handler_name)(**parameters)
        except HttpError as error:
            self._drain_unread_body()
            self._send_json(error.status, error.body(), error.headers)
        except InputError as error:  # the plate frame exists but cannot be used
            self._send_json(422, {"status": 422, "error": "unprocessable", "message": str(error)})
        except (BrokenPipeError, ConnectionResetError):
            LOG.debug("client went away during %s %s", method, self.path)
        except Exception as error:  # a bug: answer it, log it, keep serving
            LOG.exception("internal error answering %s %s", method, self.path)
            self._send_json(500, {"status": 500, "error": "internal", "message": f"{type(error).__name__}: {error}"})

    def _route(self, method: str) -> tuple[str, dict[str, str]]:
        path = urlsplit(self.path).path
        for pattern, methods in _ROUTES:
            match = pattern.match(path)
            if match:
                if method not in methods:
                    allowed = ", ".join(sorted(methods))
                    raise HttpError(405, "method_not_allowed", f"{method} is not allowed on {path}; allowed: {allowed}",
                                    headers={"Allow": allowed})
                return methods[method], match.groupdict()
        raise not_found(f"no such endpoint: {path}")

    # ---- request bodies --------------------------------------------------------------------
    _body_read = False

    def _json_body(self) -> dict:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise HttpError(411, "length_required", "a JSON body with a Content-Length header is required")
        try:
            length = int(length_header)
        except ValueError:
            raise bad_request(f"Content-Length is not a number: {length_header!r}") from None
        if length > self.server.max_body_bytes:
            raise HttpError(413, "payload_too_large",
                            f"body of {length} bytes is over the limit of {self.server.max_body_bytes} bytes")
        raw = self.rfile.read(length)
        self._body_read = True
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

    def _drain_unread_body(self) -> None:
        """Read and drop a body the handler refused unread, so the client (still sending it) reads
        our answer instead of a reset connection."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if not self._body_read and 0 < length <= _DRAIN_LIMIT_BYTES:
            self._body_read = True
            self.rfile.read(length)

    # ---- answers ------------------------------------------------------------------------------
    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
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
            "threads": torch.get_num_threads(),
            "cached_frames": session.cached_frames(),
            "jobs": {"running": sum(not job.finished for job in jobs), "total": len(jobs)},
            "idle_timeout_s": self.server.idle.timeout_s,
            "uptime_s": round(time.monotonic() - self.server.started_at, 3),
        })

    def _decode(self) -> None:
        session = self.server.session
        request = parse_decode_request(self._json_body(), session.frames.summary)
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
