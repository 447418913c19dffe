"""A `rmpsam-matte serve` child process and a small `http.client` client for it (tests only)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from shot_fixtures import FIRST_FRAME, SHOT_HEIGHT, SHOT_WIDTH  # noqa: F401  (FIRST_FRAME re-exported for the server tests)

EXECUTABLE = Path(sys.executable).parent / "rmpsam-matte"
START_TIMEOUT_S = 120.0  # importing torch on a loaded 2-core machine can take a while
REQUEST_TIMEOUT_S = 60.0
# The test shot (conftest.shot_dir): frames 1001-1008 at WIDTH x HEIGHT.
NUM_FRAMES = 8
HEIGHT, WIDTH = SHOT_HEIGHT, SHOT_WIDTH


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    """`rmpsam-matte ARGS...` to completion (one torch thread, as the servers under test)."""
    return subprocess.run([str(EXECUTABLE), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:300]!r}>"


class ServerProcess:
    """One `rmpsam-matte serve` child: its announcement, its stdout lines, a small HTTP client."""

    def __init__(self, arguments: list[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w")
        environment = dict(os.environ, OMP_NUM_THREADS="1")
        self.process = subprocess.Popen([str(EXECUTABLE), "serve", *map(str, arguments)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=environment)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_lines: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.announcement: dict | None = None

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self.stdout_lines.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = START_TIMEOUT_S) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"server did not announce itself within {timeout} s; stderr:\n{self.stderr_text()}")
        if line is None:
            self.process.wait(timeout=10)
            raise AssertionError(f"server exited ({self.process.returncode}) before listening; stderr:\n{self.stderr_text()}")
        self.announcement = json.loads(line)
        assert self.announcement["event"] == "listening", self.announcement
        return self.announcement

    @property
    def port(self) -> int:
        return self.announcement["port"]

    @property
    def token(self) -> str:
        if "token" in self.announcement:
            return self.announcement["token"]
        return Path(self.announcement["token_file"]).read_text().strip()

    def request(self, method: str, path: str, body=None, *, token: str | None = "default", raw: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT_S) -> Response:
        """One request on a fresh connection. `body` is sent as JSON, `raw` as it is; `token`
        None sends no Authorization header."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = dict(headers or {})
            if token == "default":
                token = self.token
            if token is not None:
                all_headers["Authorization"] = f"Bearer {token}"
            data = raw if raw is not None else (None if body is None else json.dumps(body).encode("utf-8"))
            if data is not None:
                all_headers.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=data, headers=all_headers)
            answer = connection.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            connection.close()

    def stream_lines(self, path: str, timeout: float = REQUEST_TIMEOUT_S):
        """GET `path` and yield its body line by line as it arrives (JSON lines)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            answer = connection.getresponse()
            assert answer.status == 200, (answer.status, answer.read())
            while True:
                line = answer.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            connection.close()

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Ask politely, then terminate, then kill: the process is gone when this returns."""
        if self.process.poll() is None and self.announcement is not None:
            try:
                self.request("POST", "/shutdown", timeout=5)
            except OSError:
                pass
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._stderr.close()


def wait_until(condition, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout} s")


# ---- raw HTTP, for what http.client will not send ---------------------------------------------

class RawAnswer:
    """What came back on a raw connection: `status` None when nothing (or no status line) did."""

    def __init__(self, data: bytes, elapsed_s: float, error: str | None = None) -> None:
        self.data = data
        self.elapsed_s = elapsed_s
        self.error = error
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        head, separator, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if separator and parts[0].startswith(b"HTTP/") and len(parts) >= 2 and parts[1].isdigit():
            self.status = int(parts[1])
            for line in lines[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                self.headers[name.strip().lower()] = value.strip()
            self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def complete(self) -> bool:
        length = self.headers.get("content-length")
        return self.status is not None and length is not None and len(self.body) >= int(length)

    def __repr__(self) -> str:
        return f"<RawAnswer {self.status} after {self.elapsed_s:.2f} s {self.data[:300]!r} error={self.error}>"


def request_head(method: str, path: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
                 token: str | None = None, version: str = "HTTP/1.1") -> bytes:
    """A request line and headers, exactly as given (plus `Authorization: Bearer <token>`)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if token is not None:
        pairs.insert(0, ("Authorization", f"Bearer {token}"))
    lines = [f"{method} {path} {version}".rstrip()] + [f"{name}: {value}" for name, value in pairs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw_request(port: int, chunks: list[bytes], *, pause_s: float = 0.0, close_write: bool = False,
                timeout: float = 30.0) -> RawAnswer:
    """Send `chunks` on a fresh connection, `pause_s` apart (stopping early if an answer starts to
    arrive), optionally close the sending side, then read until the answer is complete or the
    server closes. `elapsed_s` runs from connecting to the answer's last byte."""
    import select
    import socket

    start = time.monotonic()
    data = b""
    error = None
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        try:
            for index, chunk in enumerate(chunks):
                if index and pause_s:
                    readable, _, _ = select.select([connection], [], [], pause_s)
                    if readable:
                        break  # answered (or closed) before the request was all sent
                connection.sendall(chunk)
            if close_write:
                connection.shutdown(socket.SHUT_WR)
        except OSError as sending_error:  # the server answered and closed while we were still sending
            error = f"while sending: {sending_error!r}"
        deadline = start + timeout
        while time.monotonic() < deadline:
            try:
                piece = connection.recv(1 << 16)
            except OSError as receiving_error:
                error = f"while receiving: {receiving_error!r}"
                break
            if not piece:
                break
            data += piece
            if RawAnswer(data, 0).complete():
                break
    return RawAnswer(data, time.monotonic() - start, error)


@contextlib.contextmanager
def listening_server(arguments: list, stderr_path: Path) -> Iterator[ServerProcess]:
    """A server started with `arguments`, listening, and stopped however the block ends."""
    process = ServerProcess(arguments, stderr_path)
    try:
        process.wait_listening()
        yield process
    finally:
        process.stop()
