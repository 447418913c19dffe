"""A few hundred malformed requests against a real server: no 5xx, no hang, and it serves after.

Random (seeded: `RMPSAM_FUZZ_SEED` replays a run, the seed is in every failure message) methods,
paths, HTTP versions, tokens, headers (junk, oversized, too many, without a colon), Content-Length
(missing, negative, not a number, huge, duplicated, longer or shorter than the body), bodies
(truncated and invalid JSON, random bytes, deep nesting, over the size limit, decode and job
bodies with fields of the wrong type), and slow senders, sent over raw sockets 12 at a time.
Every request must be answered with a status below 500 (errors as the server's JSON) within its
bound: the 2 s request deadline plus slack, however the client behaves.
"""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from preview_client import FIRST_FRAME, HEIGHT, WIDTH, listening_server, raw_request

SEED = int(os.environ.get("RMPSAM_FUZZ_SEED", "1616"))
COUNT = 320
REQUEST_TIMEOUT_S = 2.0
BOUND_S = REQUEST_TIMEOUT_S + 4.0  # deadline + slack for a loaded 2-core machine
STREAM_BOUND_S = 60.0  # a job's event stream lasts as long as the job (fuzzed jobs fail in seconds)
CANCEL_BOUND_S = BOUND_S + 12.0  # cancelling waits for the job's process (SIGTERM, then SIGKILL after 5 s)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def fuzz_server(plate_pattern, tiny_weights, tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz_server")
    root = tmp_path_factory.mktemp("fuzz_root")
    with listening_server(["--plate", plate_pattern, "--weights", tiny_weights, "--threads", "1",
                           "--idle-timeout", "600", "--output-root", root,
                           "--request-timeout", str(REQUEST_TIMEOUT_S)], directory / "server.stderr") as process:
        yield process


@dataclass
class Case:
    index: int
    description: list[str] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    pause_s: float = 0.0
    close_write: bool = False
    stream: bool = False
    cancel: bool = False

    def __str__(self) -> str:
        return f"case {self.index} (seed {SEED}): {'; '.join(self.description)}"


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO", "get", "P\x7fST",
           "GET\x00"]
PATHS = ["/health", "/decode", "/jobs", "/jobs/1", "/jobs/1/events", "/jobs/999", "/jobs/../health", "/shutdown",
         "/", "*", "//decode", "/decode?x=1#f", "/%00", "/\xff\xfe", "/" + "a" * 3000, "http://127.0.0.1/health",
         "http://[::1", "/jobs/" + "9" * 400 + "/events", "/health/", "/jobs/1/events/x"]
BAD_VERSIONS = ["HTTP/2.0", "HTTP/0.9", "HTTP/1", "HTTP/1.1.1", "FOO/1.0", "HTTP/a.b", "", "HTTP/99999999999.1"]
JUNK_HEADERS = [b"Content-Type: text/plain", b"Accept: */*", b"Connection: keep-alive", b"Expect: 100-continue",
                b"NoColonHere", b"Bad Name: x", b": empty name", b"Transfer-Encoding: chunked"]
WRONG_VALUES = [None, True, False, 0, -1, 1.5, 10 ** 30, -10 ** 30, 1e308, "", "x", "1001", [], [1], [[1, 2]],
                {"a": 1}, "\u0000", "\ud800", "a" * 5000]


def wrong(rng: random.Random):
    return rng.choice(WRONG_VALUES)


def decode_body(rng: random.Random) -> dict:
    body = {"frame": FIRST_FRAME + rng.randrange(-2, 10),
            "positive_clicks": [[rng.uniform(-5, WIDTH + 5), rng.uniform(-5, HEIGHT + 5)] for _ in range(rng.randrange(3))],
            "negative_clicks": [[rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)] for _ in range(rng.randrange(2))],
            "boxes": [[1, 1, rng.uniform(2, WIDTH), rng.uniform(2, HEIGHT)] for _ in range(rng.randrange(2))],
            "encoding": rng.choice(["png", "float16", "jpeg"])}
    for _ in range(rng.choice([0, 0, 1, 2])):
        body[rng.choice(list(body) + ["postive_clicks", "plate", ""])] = wrong(rng)
    if rng.random() < 0.05:
        body["positive_clicks"] = [[1, 1]] * rng.choice([257, 5000])
    return body


def job_body(rng: random.Random) -> dict:
    """Mostly valid (jobs start, fail for want of a prompt file, and meet the one-job cap), else not."""
    def pick(good: list, bad: list):
        return rng.choice(good) if rng.random() < 0.85 else rng.choice(bad)

    body = {"prompts": pick(["p.json", "/nonexistent/p.json"], ["", 3, "p\u0000.json"]),
            "output": pick(["o.####.exr", "sub/o.%04d.exr"], ["../../E_escape/deep/m.####.exr", "/tmp/x.####.exr",
                                                              "o.exr", "o.####.png"]),
            "threads": pick([1, 2, 1_000_000_000], [0, -3, "2", 2.5]),
            "frames": pick(["1001-1002", "x"], ["", 7]),
            "instances": pick([[], ["a"]], [["a,b"], ["x"] * 300, "a", [""]]),
            "cryptomatte": pick([True, False], ["yes", None])}
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        body[rng.choice(list(body) + ["plate", "unknown"])] = wrong(rng)
    return body


def body_bytes(rng: random.Random, path: str) -> tuple[bytes, str]:
    kind = rng.choices(["fields", "truncated", "random", "nested", "empty", "not object", "invalid", "huge"],
                       weights=[60, 10, 6, 5, 4, 6, 6, 3])[0]
    if kind == "fields":
        kind = "job" if "jobs" in path else "decode"
    if kind == "decode":
        return json.dumps(decode_body(rng)).encode("utf-8", "surrogatepass"), "decode body"
    if kind == "job":
        return json.dumps(job_body(rng)).encode("utf-8", "surrogatepass"), "job body"
    if kind == "truncated":
        data = json.dumps(decode_body(rng)).encode("utf-8", "surrogatepass")
        return data[:rng.randrange(len(data))], "truncated JSON"
    if kind == "random":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))), "random bytes"
    if kind == "nested":
        depth = rng.choice([50, 990, 5000, 100_000])
        return b"[" * depth + b"]" * rng.choice([0, depth]), f"nested {depth}"
    if kind == "empty":
        return b"", "empty body"
    if kind == "not object":
        return rng.choice([b"[1, 2]", b"null", b"42", b'"x"', b"NaN"]), "JSON, not an object"
    if kind == "invalid":
        return rng.choice([b"{'a': 1}", b'{"a": }', b"\xff\xfe{}", b'{"frame": 1e999}', b"{" + b'"a":1,' * 50]), "invalid"
    return b" " * (1 << 20) + b"{}", "over the 1 MiB limit"


def make_case(rng: random.Random, index: int, token: str) -> Case:
    case = Case(index)
    method, path = rng.choice(METHODS), rng.choice(PATHS)
    version = rng.choice(["HTTP/1.1", "HTTP/1.0"]) if rng.random() < 0.85 else rng.choice(BAD_VERSIONS)
    if rng.random() < 0.5:  # most requests aim at the real endpoints
        method, path = rng.choice([("POST", "/decode")] * 3 + [("POST", "/jobs")] * 3 + [
            ("GET", "/health"), ("GET", "/jobs"), ("GET", "/jobs/1"), ("DELETE", "/jobs/1"), ("GET", "/jobs/1/events")])
    if rng.random() < 0.02:
        path = "/" + "b" * 70_000  # request line over 64 KiB
    case.description.append(f"{method!r} {path[:60]!r} {version!r}")
    headers: list[bytes] = []
    auth = rng.choices(["good", "none", "wrong", "spaced", "twice", "bare"], weights=[70, 8, 8, 6, 4, 4])[0]
    if "shutdown" in path and auth in ("good", "twice"):
        auth = "wrong"  # everything may be fuzzed but stopping the server under test
    case.description.append(f"token {auth}")
    bearer = {"good": f"Bearer {token}", "wrong": "Bearer nope", "spaced": f"Bearer {token} ", "bare": "Bearer",
              "twice": f"Bearer {token}"}.get(auth)
    if bearer is not None:
        headers.append(f"Authorization: {bearer}".encode())
        if auth == "twice":
            headers.append(f"Authorization: {bearer}".encode())
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        headers.append(b"X-Junk: " + bytes(rng.randrange(32, 256) for _ in range(20)) if rng.random() < 0.5
                       else rng.choice(JUNK_HEADERS))
    if rng.random() < 0.02:
        headers.append(b"X-Long: " + b"y" * 70_000)
        case.description.append("a 70 KB header")
    if rng.random() < 0.02:
        headers += [f"X-{n}: {n}".encode() for n in range(120)]
        case.description.append("120 headers")
    body, what = body_bytes(rng, path) if rng.random() < 0.8 else (b"", "no body")
    case.description.append(what)
    length_mode = rng.choices(["right", "missing", "negative", "text", "huge", "longer", "shorter", "twice", "padded"],
                              weights=[60, 6, 5, 5, 4, 8, 5, 3, 4])[0]
    case.description.append(f"Content-Length {length_mode}")
    lengths = {"right": [str(len(body))], "missing": [], "negative": ["-1"], "text": [rng.choice(["abc", "1e3", "0x1"])],
               "huge": [rng.choice(["1000000000000", "9" * 60])], "longer": [str(len(body) + rng.randrange(1, 500))],
               "shorter": [str(max(0, len(body) - rng.randrange(1, 50)))], "twice": [str(len(body)), str(len(body) + 1)],
               "padded": [f"  {len(body)}"]}[length_mode]
    headers += [f"Content-Length: {value}".encode() for value in lengths]
    line = f"{method} {path} {version}".rstrip().encode("latin-1")
    request = line + b"\r\n" + b"".join(header + b"\r\n" for header in headers) + b"\r\n" + body
    case.close_write = length_mode == "longer" and rng.random() < 0.5  # else: the 408 at the deadline
    if rng.random() < 0.06:  # a slow sender: the request in pieces, seconds apart
        cuts = sorted(rng.sample(range(1, len(request)), k=min(len(request) - 1, rng.randrange(2, 6))))
        case.chunks = [request[a:b] for a, b in zip([0] + cuts, cuts + [len(request)])]
        case.pause_s = rng.uniform(0.2, 0.9)
        case.description.append(f"slow: {len(case.chunks)} pieces {case.pause_s:.2f} s apart")
    else:
        case.chunks = [request]
    case.stream = path.endswith("/events")
    case.cancel = method == "DELETE"
    return case


def check(case: Case, port: int) -> str | None:
    """None if the server's answer to `case` is acceptable, else what was wrong."""
    bound = STREAM_BOUND_S if case.stream else CANCEL_BOUND_S if case.cancel else BOUND_S
    answer = raw_request(port, case.chunks, pause_s=case.pause_s, close_write=case.close_write, timeout=bound + 5)
    if answer.status is None:
        return f"{case}: no answer ({answer!r})"
    if answer.status >= 500:
        return f"{case}: {answer.status} {answer.body[:300]!r}"
    if answer.elapsed_s > bound:
        return f"{case}: answered after {answer.elapsed_s:.1f} s (bound {bound} s)"
    if answer.headers.get("content-type") == "application/json":
        if not answer.complete():
            return f"{case}: answer cut short {answer!r}"
        body = answer.json()
        if answer.status >= 400 and (body.get("status") != answer.status or not body.get("message")):
            return f"{case}: error body without its status and message: {body}"
    elif not (case.stream and answer.status == 200):
        return f"{case}: answer is not JSON: {answer!r}"
    return None


def test_malformed_requests_never_get_a_5xx_or_hang_and_the_server_serves_after(fuzz_server):
    rng = random.Random(SEED)
    cases = [make_case(rng, index, fuzz_server.token) for index in range(COUNT)]
    assert sum(case.pause_s > 0 for case in cases) >= 5, "too few slow senders for this seed"
    with ThreadPoolExecutor(max_workers=12) as pool:
        problems = [problem for problem in pool.map(lambda case: check(case, fuzz_server.port), cases) if problem]
    assert not problems, f"{len(problems)} of {COUNT} requests answered wrongly:\n" + "\n".join(problems[:20])
    assert fuzz_server.process.poll() is None, fuzz_server.stderr_text()
    health = fuzz_server.request("GET", "/health", timeout=30)
    assert health.status == 200 and health.json()["status"] == "ok", health
    decoded = fuzz_server.request("POST", "/decode", {"frame": FIRST_FRAME, "positive_clicks": [[64.5, 50.5]]},
                                  timeout=60)
    assert decoded.status == 200 and decoded.json()["width"] == WIDTH, decoded
    log = fuzz_server.stderr_text()
    assert "internal error" not in log and "Traceback" not in log, log[-3000:]
