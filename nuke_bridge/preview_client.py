"""A client for the preview server (`rmpsam-matte serve`), standard library only.

Nuke's Python has no requests, numpy or torch, so this speaks HTTP with `urllib` and hands mattes
back as the bytes the server sent (PNG by default, which a Read node loads as it is). Every call
has a timeout; every refusal of the server becomes a `PreviewError` carrying the server's status,
message and, where it names one, the field at fault, so the artist sees the server's own words.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Sequence

DEFAULT_TIMEOUT_S = 60.0  # a first click on a cold frame runs the backbone: seconds on a CPU


class PreviewError(Exception):
    """The server refused a request, or could not be reached (`status` 0)."""

    def __init__(self, status: int, message: str, field: Optional[str] = None) -> None:
        super().__init__(f"{message} (HTTP {status})" if status else message)
        self.status = status
        self.message = message
        self.field = field


class PreviewClient:
    def __init__(self, url: str, token: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    # ---- endpoints -----------------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        return self._call("GET", "/health")

    def decode(self, frame: int, positive_clicks: Sequence[Sequence[float]] = (),
               negative_clicks: Sequence[Sequence[float]] = (), boxes: Sequence[Sequence[float]] = (),
               encoding: str = "png") -> Dict[str, Any]:
        """The server's answer, plus `matte_bytes`: the matte as raw PNG (or float16) bytes.
        Coordinates are display-window pixels, origin top-left, y down."""
        answer = self._call("POST", "/decode", {
            "frame": frame,
            "positive_clicks": [list(point) for point in positive_clicks],
            "negative_clicks": [list(point) for point in negative_clicks],
            "boxes": [list(box) for box in boxes],
            "encoding": encoding,
        })
        answer["matte_bytes"] = base64.b64decode(answer.pop("matte"))
        return answer

    def start_job(self, prompts: str, output: str, **options: Any) -> Dict[str, Any]:
        """Start `rmpsam-matte run` on the server's plate; options as in `POST /jobs`."""
        return self._call("POST", "/jobs", dict(options, prompts=prompts, output=output))

    def jobs(self) -> List[Dict[str, Any]]:
        return self._call("GET", "/jobs")["jobs"]

    def job(self, job_id: str) -> Dict[str, Any]:
        return self._call("GET", f"/jobs/{job_id}")

    def cancel_job(self, job_id: str) -> Dict[str, Any]:
        return self._call("DELETE", f"/jobs/{job_id}")

    def job_events(self, job_id: str) -> Iterator[Dict[str, Any]]:
        """The job's progress events as they come, until it ends."""
        with self._open("GET", f"/jobs/{job_id}/events") as response:
            for line in response:
                if line.strip():
                    yield json.loads(line)

    def shutdown(self) -> Dict[str, Any]:
        return self._call("POST", "/shutdown")

    # ---- transport ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        with self._open(method, path, body) as response:
            return json.loads(response.read())

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as error:
            raise _preview_error(error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PreviewError(0, f"cannot reach the preview server at {self.url}: {reason}") from None


def _preview_error(error: urllib.error.HTTPError) -> PreviewError:
    try:
        body = json.loads(error.read())
        return PreviewError(error.code, body.get("message", error.reason), body.get("field"))
    except (ValueError, AttributeError):
        return PreviewError(error.code, str(error.reason))
    finally:
        error.close()
