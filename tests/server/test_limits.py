"""The server's limits on what a client sends, over real loopback sockets, each test bounded in time.

Raw sockets where http.client would not send the request (a negative Content-Length, a body that
never comes, one byte at a time); the server under test has a 2 s request deadline so the
deadline tests take seconds. Every answer must be JSON with the precise status, come within its
bound, and leave the server serving.
"""

from __future__ import annotations

import json
import time

import pytest
from preview_client import FIRST_FRAME, HEIGHT, WIDTH, listening_server, raw_request, request_head, run_cli

REQUEST_TIMEOUT_S = 2.0
AT_ONCE_S = 1.5  # "at once": well under the deadline, with room for a loaded 2-core machine
DEADLINE_SLACK_S = 2.0
GOOD_DECODE = {"frame": FIRST_FRAME, "positive_clicks": [[64.5, 50.5]]}

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def strict(plate_pattern, tiny_weights, tmp_path_factory, output_root):
    """A server with a 2 s request deadline."""
    directory = tmp_path_factory.mktemp("strict_server")
    with listening_server(["--plate", plate_pattern, "--weights", tiny_weights, "--threads", "1",
                           "--idle-timeout", "600", "--output-root", output_root,
                           "--request-timeout", str(REQUEST_TIMEOUT_S)], directory / "server.stderr") as process:
        yield process


def post_decode(server, headers, body: bytes = b"", *, token: str | None = "default", **options):
    token = server.token if token == "default" else token
    return raw_request(server.port, [request_head("POST", "/decode", headers, token) + body], **options)


def assert_answer(answer, status: int, reason: str, *says: str, within_s: float | None = None) -> dict:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    body = answer.json()
    assert body["status"] == status and body["error"] == reason, body
    for text in says:
        assert text in body["message"], (text, body)
    if within_s is not None:
        assert answer.elapsed_s < within_s, answer
    return body


def assert_serving(server):
    assert server.process.poll() is None, server.stderr_text()
    assert server.request("GET", "/health", timeout=10).status == 200
    decoded = server.request("POST", "/decode", GOOD_DECODE, timeout=30)
    assert decoded.status == 200 and (decoded.json()["width"], decoded.json()["height"]) == (WIDTH, HEIGHT), decoded


# ---- Content-Length -----------------------------------------------------------------------------

@pytest.mark.parametrize("length", ["-1", "-0", "+5", "5 5", "5,5", "0x10", "1_000", "1e3", "ten", "²", ""])
def test_a_malformed_content_length_is_a_400_at_once(strict, length):
    answer = post_decode(strict, {"Content-Length": length}, json.dumps(GOOD_DECODE).encode(), timeout=10)
    assert_answer(answer, 400, "bad_request", "Content-Length", within_s=AT_ONCE_S)


def test_a_negative_length_no_longer_reads_the_body_to_its_end(strict):
    """`Content-Length: -1` was read as 'everything until the client closes': past the 1 MB limit."""
    answer = post_decode(strict, {"Content-Length": "-1"}, b'{"frame": 1001, "positive_clicks": [' + b"[1, 1], " * 1000,
                         timeout=10)  # the client keeps its side open: the old server waited for more
    assert_answer(answer, 400, "bad_request", "'-1'", within_s=AT_ONCE_S)
    assert_serving(strict)


def test_two_different_content_lengths_or_transfer_encoding_are_refused(strict):
    body = json.dumps(GOOD_DECODE).encode()
    answer = post_decode(strict, [("Content-Length", str(len(body))), ("Content-Length", "3")], body, timeout=10)
    assert_answer(answer, 400, "bad_request", "several different Content-Length", within_s=AT_ONCE_S)
    same = post_decode(strict, [("Content-Length", str(len(body))), ("Content-Length", str(len(body)))], body)
    assert same.status == 200, same  # the same value twice is one length
    chunked = post_decode(strict, {"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n", timeout=10)
    assert_answer(chunked, 411, "length_required", "Transfer-Encoding", within_s=AT_ONCE_S)
    both = post_decode(strict, {"Transfer-Encoding": "chunked", "Content-Length": "5"}, b"hello", timeout=10)
    assert_answer(both, 400, "bad_request", "Transfer-Encoding", within_s=AT_ONCE_S)


def test_a_length_of_more_digits_than_a_number_holds_is_a_413(strict):
    answer = post_decode(strict, {"Content-Length": "9" * 5000}, timeout=10)
    assert_answer(answer, 413, "payload_too_large", within_s=AT_ONCE_S)


# ---- the request deadline -----------------------------------------------------------------------

def test_a_body_that_never_comes_is_a_408_at_the_deadline(strict):
    """It used to be a 500 after 30 s (the socket timeout, raised inside the handler)."""
    answer = post_decode(strict, {"Content-Length": "100"}, b'{"frame"', timeout=REQUEST_TIMEOUT_S + 10)
    body = assert_answer(answer, 408, "request_timeout", "8 of 100 bytes", f"{REQUEST_TIMEOUT_S:g} s")
    assert REQUEST_TIMEOUT_S - 0.3 <= answer.elapsed_s < REQUEST_TIMEOUT_S + DEADLINE_SLACK_S, answer
    assert "closed" in body["message"]
    assert_serving(strict)


def test_a_body_cut_short_by_the_client_is_a_400_at_once(strict):
    answer = post_decode(strict, {"Content-Length": "100"}, b'{"frame"', close_write=True, timeout=10)
    assert_answer(answer, 400, "bad_request", "ended after 8 of the 100 bytes", within_s=AT_ONCE_S)


def test_without_the_token_a_missing_body_is_answered_401_at_once(strict):
    """It used to get no answer at all: the refused body was waited for until the socket timed out."""
    answer = post_decode(strict, {"Content-Length": "100"}, token="wrong", timeout=10)
    assert_answer(answer, 401, "unauthorized", within_s=AT_ONCE_S)
    answer = post_decode(strict, {"Content-Length": "100"}, token=None, timeout=10)
    assert_answer(answer, 401, "unauthorized", within_s=AT_ONCE_S)


@pytest.mark.parametrize("where", ["body", "headers", "request line"])
def test_a_client_sending_one_byte_at_a_time_is_cut_off_at_the_deadline(strict, where):
    """One byte every 0.4 s (every 8 s in the issue: each byte restarted the old per-read timeout)."""
    body = json.dumps(GOOD_DECODE).encode()
    request = request_head("POST", "/decode", {"Content-Length": str(len(body))}, strict.token) + body
    split = {"body": len(request) - len(body), "headers": request.index(b"\r\n") + 2, "request line": 0}[where]
    chunks = [request[:split]] + [bytes([byte]) for byte in request[split:]]  # would take > 20 s to send
    answer = raw_request(strict.port, chunks, pause_s=0.4, timeout=REQUEST_TIMEOUT_S + 10)
    assert_answer(answer, 408, "request_timeout")
    assert answer.elapsed_s < REQUEST_TIMEOUT_S + DEADLINE_SLACK_S, answer
    assert_serving(strict)


def test_a_silent_connection_is_closed_at_the_deadline(strict):
    answer = raw_request(strict.port, [b""], timeout=REQUEST_TIMEOUT_S + 10)
    assert answer.elapsed_s < REQUEST_TIMEOUT_S + DEADLINE_SLACK_S, answer
    if answer.status is not None:  # a 408 before closing is allowed, not required
        assert_answer(answer, 408, "request_timeout")


def test_a_slow_but_timely_client_is_answered(strict):
    body = json.dumps(GOOD_DECODE).encode()
    request = request_head("POST", "/decode", {"Content-Length": str(len(body))}, strict.token) + body
    third = len(request) // 3
    answer = raw_request(strict.port, [request[:third], request[third:2 * third], request[2 * third:]], pause_s=0.5,
                         timeout=30)
    assert answer.status == 200 and answer.json()["frame"] == FIRST_FRAME, answer


# ---- the token ----------------------------------------------------------------------------------

@pytest.mark.parametrize("template", ["Bearer {t} ", "Bearer {t}\t", "Bearer  {t}", "Bearer \t{t}", "Bearer\t{t}",
                                      "Bearer {t}  x"])
def test_whitespace_around_the_token_is_refused(strict, template):
    value = template.format(t=strict.token)
    answer = raw_request(strict.port, [request_head("GET", "/health", [("Authorization", value)])], timeout=10)
    assert_answer(answer, 401, "unauthorized", within_s=AT_ONCE_S)


def test_the_exact_token_is_accepted_and_a_second_authorization_header_is_refused(strict):
    exact = raw_request(strict.port, [request_head("GET", "/health", [("Authorization", f"Bearer {strict.token}")])])
    assert exact.status == 200, exact
    twice = [("Authorization", f"Bearer {strict.token}")] * 2
    answer = raw_request(strict.port, [request_head("GET", "/health", twice)], timeout=10)
    assert_answer(answer, 401, "unauthorized")


# ---- caps ----------------------------------------------------------------------------------------

def test_a_decode_with_more_prompts_than_the_cap_is_refused_before_any_work(strict):
    limits = strict.request("GET", "/health").json()["limits"]
    cap = limits["max_prompts_per_decode"]
    assert cap == 256  # the default
    start = time.monotonic()
    response = strict.request("POST", "/decode", {"frame": FIRST_FRAME, "positive_clicks": [[10, 10]] * 40_000},
                              timeout=30)
    body = json.loads(response.body)
    assert response.status == 400 and body["field"] == "positive_clicks", response
    assert "40000 positive_clicks" in body["message"] and str(cap) in body["message"]
    assert time.monotonic() - start < 5.0  # 40 000 clicks once held the network for 115 s
    over = {"frame": FIRST_FRAME, "positive_clicks": [[10, 10]] * 200, "negative_clicks": [[5, 5]] * 50,
            "boxes": [[1, 1, 20, 20]] * (cap - 250 + 1)}
    response = strict.request("POST", "/decode", over)
    assert response.status == 400 and json.loads(response.body)["field"] == "boxes", response
    at_cap = dict(over, boxes=[[1, 1, 20, 20]] * (cap - 250))
    response = strict.request("POST", "/decode", at_cap, timeout=60)
    assert response.status == 200, response


def test_health_reports_the_limits(strict, output_root):
    limits = strict.request("GET", "/health").json()["limits"]
    assert limits["request_timeout_s"] == REQUEST_TIMEOUT_S
    assert limits["max_running_jobs"] == 1 and limits["max_body_bytes"] == 1 << 20
    assert limits["output_root"] == str(output_root.resolve())
    assert limits["max_job_threads"] >= 1 and limits["job_memory_limit_bytes"] > 0


# ---- idle exit ----------------------------------------------------------------------------------

def test_a_request_in_progress_keeps_the_server_alive(start_server):
    """A request longer than the idle timeout (its body trickles in over ~5 s; idle timeout 2 s) is
    answered; the idle time then counts from its end."""
    idle_s = 2.0
    server = start_server("--idle-timeout", str(idle_s), "--request-timeout", "30")
    body = json.dumps(GOOD_DECODE).encode()
    head = request_head("POST", "/decode", {"Content-Length": str(len(body))}, server.token)
    chunks = [head] + [body[index:index + 5] for index in range(0, len(body), 5)]
    pause = 5.0 / len(chunks)
    answer = raw_request(server.port, chunks, pause_s=pause, timeout=60)
    answered = time.monotonic()
    assert answer.status == 200 and answer.json()["frame"] == FIRST_FRAME, answer
    assert answer.elapsed_s > 2 * idle_s, answer
    assert server.process.poll() is None, "the server exited during the request"
    assert server.wait_exit(timeout=60) == 0
    assert time.monotonic() - answered >= idle_s - 0.3
    assert json.loads(server.stdout_lines[-1]) == {"event": "stopped", "reason": "idle"}


# ---- the token file -----------------------------------------------------------------------------

def test_a_token_file_that_is_a_folder_is_one_line_and_exit_3(plate_pattern, tiny_weights, tmp_path):
    for token_file, says in [(tmp_path, "is a folder"), (tmp_path / "no" / "such" / "token", "does not exist")]:
        result = run_cli("serve", "--plate", plate_pattern, "--weights", tiny_weights, "--token-file", token_file,
                         timeout=120)
        assert result.returncode == 3, (result.returncode, result.stderr)
        assert result.stdout == ""  # never listened
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert str(token_file) in lines[0] and says in lines[0] and lines[0].startswith("rmpsam-matte serve:"), lines


def test_the_new_options_are_in_help():
    result = run_cli("serve", "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--output-root", "--max-jobs", "--max-prompts", "--request-timeout", "--job-memory"):
        assert option in result.stdout, option


# ---- waiting for the network --------------------------------------------------------------------

def test_a_decode_waits_for_the_network_at_most_its_limit(plate_pattern, tiny_weights):
    """In-process (a test cannot hold the server's lock from outside): a decode behind a network
    held longer than `model_wait_s` gives up with NetworkBusy (the server answers it 429)."""
    import numpy as np

    from rmpsam_model.loading import load_model
    from rmpsam_model.predictor import RMPSAMPredictor
    from rmpsam_plugin.server.plate_frames import PlateFrames
    from rmpsam_plugin.server.sessions import DecodeRequest, NetworkBusy, PreviewSession

    loaded = load_model(tiny_weights)
    session = PreviewSession(RMPSAMPredictor(loaded.model, loaded.inference_size),
                             PlateFrames(plate_pattern, loaded.inference_size), model_wait_s=0.3)
    request = DecodeRequest(FIRST_FRAME, np.array([[64.5, 50.5]]), np.zeros((0, 2)), np.zeros((0, 4)))
    with session.model_lock:  # another request holding the network
        start = time.monotonic()
        with pytest.raises(NetworkBusy, match="busy"):
            session.decode(request)
        assert 0.25 <= time.monotonic() - start < 3.0
    assert session.decode(request).matte.shape == (HEIGHT, WIDTH)  # and the lock was left free
