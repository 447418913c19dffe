"""The token and every kind of bad request, over real loopback HTTP; the server keeps serving.

Each refusal must carry the precise status and a JSON body naming what was wrong (the Nuke bridge
shows `message` to the artist as it is), and a valid request right after must still be answered.
"""

from __future__ import annotations

import http.client
import json

import pytest
from preview_client import FIRST_FRAME, HEIGHT, NUM_FRAMES, WIDTH

GOOD_DECODE = {"frame": FIRST_FRAME, "positive_clicks": [[64.5, 50.5]]}


def assert_error(response, status: int, reason: str, *, field: str | None = None, says: tuple[str, ...] = ()):
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["error"] == reason, body
    if field is not None:
        assert body.get("field") == field, body
    for text in says:
        assert text in body["message"], (text, body)
    return body


def assert_still_serving(server):
    health = server.request("GET", "/health")
    assert health.status == 200 and health.json()["status"] == "ok", health
    decoded = server.request("POST", "/decode", GOOD_DECODE)
    assert decoded.status == 200, decoded
    assert (decoded.json()["width"], decoded.json()["height"]) == (WIDTH, HEIGHT)


# ---- the token ----------------------------------------------------------------------------------

def test_health_with_the_token_describes_the_plate(server):
    response = server.request("GET", "/health")
    assert response.status == 200
    body = response.json()
    plate = body["plate"]
    assert (plate["first_frame"], plate["last_frame"]) == (FIRST_FRAME, FIRST_FRAME + NUM_FRAMES - 1)
    assert (plate["width"], plate["height"]) == (WIDTH, HEIGHT)
    assert body["pid"] == server.process.pid
    assert body["threads"] == 1  # --threads 1


def test_the_announcement_names_a_loopback_url_and_a_long_token(server):
    assert server.announcement["url"] == f"http://127.0.0.1:{server.port}"
    assert len(server.token) >= 40


@pytest.mark.parametrize("authorization", [
    None,  # no header at all
    "Bearer wrong-token",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "token-without-scheme",
])
def test_every_endpoint_needs_the_token(server, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path, body in [("GET", "/health", None), ("POST", "/decode", GOOD_DECODE), ("GET", "/jobs", None),
                               ("POST", "/shutdown", None), ("GET", "/no/such/path", None)]:
        response = server.request(method, path, body, token=None, headers=headers)
        error = assert_error(response, 401, "unauthorized", says=("token",))
        assert "Authorization: Bearer" in error["message"]
        assert response.headers.get("www-authenticate") == "Bearer"
    assert_still_serving(server)  # and a refused shutdown did not stop it


def test_a_token_with_a_suffix_or_another_case_is_refused(server):
    for token in (server.token + "x", server.token[:-1], server.token.swapcase()):
        assert_error(server.request("GET", "/health", token=token), 401, "unauthorized")


def test_the_token_is_checked_before_the_body_is_looked_at(server):
    response = server.request("POST", "/decode", raw=b"{not json", token="nope")
    assert_error(response, 401, "unauthorized")


# ---- malformed bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize("raw, says", [
    (b'{"frame": 1001, "positive_clicks": [[1, 2]]', ("not valid JSON", "line 1, column")),
    (b"{'frame': 1001}", ("not valid JSON", "property name")),
    (b"", ("not valid JSON",)),
    (b"\xff\xfe{}", ("not UTF-8",)),
    (b"[1, 2, 3]", ("must be a JSON object", "list")),
    (b"[" * 100_000, ("nested too deeply",)),
    (b'{"frame": ' + b"9" * 5000 + b"}", ("not usable JSON",)),
])
def test_malformed_json_is_a_400_naming_the_problem(server, raw, says):
    assert_error(server.request("POST", "/decode", raw=raw), 400, "bad_request", says=says)
    assert_still_serving(server)


def test_the_parse_error_position_is_reported(server):
    body = assert_error(server.request("POST", "/decode", raw=b'{\n  "frame": 1001,\n  oops\n}'), 400, "bad_request")
    assert "line 3, column 3" in body["message"], body


# ---- wrong fields -------------------------------------------------------------------------------

@pytest.mark.parametrize("body, field, says", [
    ({"positive_clicks": [[10, 10]]}, "frame", ("missing field 'frame'",)),
    ({"frame": "1001", "positive_clicks": [[10, 10]]}, "frame", ("integer", "'1001'")),
    ({"frame": 1001.0, "positive_clicks": [[10, 10]]}, "frame", ("integer",)),
    ({"frame": True, "positive_clicks": [[10, 10]]}, "frame", ("integer",)),
    ({"frame": 1001, "positive_clicks": [[10, "a"]]}, "positive_clicks[0]", ("[x, y]",)),
    ({"frame": 1001, "positive_clicks": [[10, True]]}, "positive_clicks[0]", ("[x, y]",)),
    ({"frame": 1001, "positive_clicks": [[10, 10, 10]]}, "positive_clicks[0]", ("[x, y]",)),
    ({"frame": 1001, "positive_clicks": [[10, 10], [1e400, 3]]}, "positive_clicks[1]", ("finite",)),
    ({"frame": 1001, "positive_clicks": [[10 ** 400, 3]]}, "positive_clicks[0]", ("finite",)),
    ({"frame": 1001, "positive_clicks": {"x": 1}}, "positive_clicks", ("list",)),
    ({"frame": 1001, "positive_clicks": [[WIDTH + 1, 10]]}, "positive_clicks[0]", ("outside the frame",)),
    ({"frame": 1001, "positive_clicks": [[-1, 10]]}, "positive_clicks[0]", ("outside the frame",)),
    ({"frame": 1001, "boxes": [[50, 50, 10, 10]]}, "boxes[0]", ("x1 < x2",)),
    ({"frame": 1001, "boxes": [[1, 2, 3]]}, "boxes[0]", ("[x1, y1, x2, y2]",)),
    ({"frame": 1001, "negative_clicks": [[10, 10]]}, "positive_clicks", ("nothing to decode",)),
    ({"frame": 1001}, "positive_clicks", ("nothing to decode",)),
    ({"frame": 1001, "postive_clicks": [[10, 10]]}, "postive_clicks", ("unknown field 'postive_clicks'",)),
    ({"frame": 1001, "positive_clicks": [[10, 10]], "encoding": "jpeg"}, "encoding", ("png", "float16")),
])
def test_a_wrong_field_is_a_400_naming_the_field(server, body, field, says):
    assert_error(server.request("POST", "/decode", body), 400, "bad_request", field=field, says=says)


def test_wrong_fields_leave_the_server_serving(server):
    for body in ({"frame": "x"}, {"frame": 1001, "boxes": "no"}, {"frame": 1001, "positive_clicks": [[1e999, 1]]}):
        assert server.request("POST", "/decode", body).status == 400
    assert_still_serving(server)


@pytest.mark.parametrize("body, field", [
    ({"output": "/tmp/x.####.exr"}, "prompts"),
    ({"prompts": "p.json"}, "output"),
    ({"prompts": 3, "output": "o.####.exr"}, "prompts"),
    ({"prompts": "p.json", "output": "o.####.exr", "threads": 0}, "threads"),
    ({"prompts": "p.json", "output": "o.####.exr", "threads": "2"}, "threads"),
    ({"prompts": "p.json", "output": "o.####.exr", "cryptomatte": "yes"}, "cryptomatte"),
    ({"prompts": "p.json", "output": "o.####.exr", "instances": "a,b"}, "instances"),
    ({"prompts": "p.json", "output": "o.####.exr", "plate": "/etc/passwd"}, "plate"),
    ({"prompts": "p.json", "output": "o.####.exr", "overlap": "share"}, "overlap"),
])
def test_a_wrong_job_field_is_a_400_naming_the_field(server, body, field):
    assert_error(server.request("POST", "/jobs", body), 400, "bad_request", field=field, says=(field,))
    assert server.request("GET", "/jobs").json()["jobs"] == []  # nothing was started


# ---- unknown things -----------------------------------------------------------------------------

@pytest.mark.parametrize("frame", [FIRST_FRAME - 1, FIRST_FRAME + NUM_FRAMES, 0, -5, 10 ** 30])
def test_an_unknown_frame_is_a_404_naming_the_frame_and_the_range(server, frame):
    body = {"frame": frame, "positive_clicks": [[10, 10]]}
    error = assert_error(server.request("POST", "/decode", body), 404, "not_found", field="frame",
                         says=(f"frame {frame} ", f"frames {FIRST_FRAME}-{FIRST_FRAME + NUM_FRAMES - 1}"))
    assert "plate.####.exr" in error["message"]
    assert_still_serving(server)


def test_unknown_paths_jobs_and_methods(server):
    assert_error(server.request("GET", "/nothing"), 404, "not_found", says=("/nothing",))
    assert_error(server.request("GET", "/jobs/42"), 404, "not_found", says=("'42'",))
    assert_error(server.request("DELETE", "/jobs/42"), 404, "not_found", says=("'42'",))
    response = server.request("GET", "/decode")
    assert_error(response, 405, "method_not_allowed", says=("GET", "POST"))
    assert response.headers["allow"] == "POST"
    assert_error(server.request("PUT", "/health", raw=b"{}"), 405, "method_not_allowed")
    assert_still_serving(server)


# ---- sizes --------------------------------------------------------------------------------------

def test_an_oversized_body_is_a_413_and_the_client_reads_it(server):
    clicks = [[10.0, 10.0]] * 200_000  # about 2.4 MB of valid JSON, over the 1 MiB limit
    body = json.dumps({"frame": FIRST_FRAME, "positive_clicks": clicks}).encode()
    assert len(body) > 2 << 20
    error = assert_error(server.request("POST", "/decode", raw=body), 413, "payload_too_large")
    assert str(len(body)) in error["message"] and str(1 << 20) in error["message"]
    assert_still_serving(server)


def test_a_declared_huge_length_is_refused_without_reading(server):
    # nothing of the body is sent: the answer must not wait for it
    status, body = raw_headers_request(server, {"Content-Length": str(10 ** 12)})
    assert status == 413 and body["error"] == "payload_too_large" and str(10 ** 12) in body["message"], body
    assert_still_serving(server)


def raw_headers_request(server, headers: dict[str, str]):
    """POST /decode with exactly these headers (plus the token) and no body bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("POST", "/decode")
        connection.putheader("Authorization", f"Bearer {server.token}")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_a_body_without_content_length_is_a_411(server):
    status, body = raw_headers_request(server, {})
    assert status == 411 and "Content-Length" in body["message"], body
    status, body = raw_headers_request(server, {"Content-Length": "ten"})
    assert status == 400 and "Content-Length" in body["message"] and "'ten'" in body["message"], body
    assert_still_serving(server)


# ---- frames that exist but cannot be used ------------------------------------------------------

@pytest.fixture(scope="module")
def uneven_plate(tmp_path_factory, shot_dir):
    """Frames 1001-1004: 1001-1002 the shot's own, 1003 another size, 1004 not an image at all."""
    import shutil

    from rmpsam_plugin.synthetic import generate_shot, write_shot

    directory = tmp_path_factory.mktemp("uneven")
    for frame in (FIRST_FRAME, FIRST_FRAME + 1):
        shutil.copy(shot_dir / f"plate.{frame}.exr", directory / f"plate.{frame}.exr")
    other = tmp_path_factory.mktemp("other_size")
    write_shot(generate_shot(3, num_frames=1, height=64, width=128, num_objects=1), other, "plate",
               first_frame=FIRST_FRAME + 2)
    shutil.copy(other / f"plate.{FIRST_FRAME + 2}.exr", directory / f"plate.{FIRST_FRAME + 2}.exr")
    (directory / f"plate.{FIRST_FRAME + 3}.exr").write_bytes(b"this is not an EXR file" * 10)
    return directory


def test_a_frame_of_another_size_or_unreadable_is_a_422_naming_it(start_server, uneven_plate):
    server = start_server(plate=str(uneven_plate / "plate.####.exr"))
    click = {"positive_clicks": [[10, 10]]}
    error = assert_error(server.request("POST", "/decode", {"frame": FIRST_FRAME + 2, **click}), 422, "unprocessable",
                         says=(f"frame {FIRST_FRAME + 2}", "128x64", f"{WIDTH}x{HEIGHT}"))
    assert "plate." in error["message"]
    error = assert_error(server.request("POST", "/decode", {"frame": FIRST_FRAME + 3, **click}), 422, "unprocessable",
                         says=(f"plate.{FIRST_FRAME + 3}.exr",))
    assert server.request("POST", "/decode", {"frame": FIRST_FRAME + 1, **click}).status == 200
