"""Start, bind, stop: loopback only, idle exit (unless busy), shutdown, SIGTERM, token file."""

from __future__ import annotations

import json
import signal
import stat
import time
from pathlib import Path

import pytest
from preview_client import run_cli

from rmpsam_plugin.server.app import check_loopback

IDLE_S = 2.0


def last_event(server) -> dict:
    return json.loads(server.stdout_lines[-1])


def listening_addresses(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) of sockets listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


def test_it_listens_on_127_0_0_1_only(server):
    addresses = listening_addresses(server.port)
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read listening sockets from")
    assert addresses == ["0100007F"], addresses  # 127.0.0.1, little-endian hex; no 0.0.0.0, no IPv6


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_a_non_loopback_host_is_refused(plate_pattern, tiny_weights, host):
    result = run_cli("serve", "--plate", plate_pattern, "--weights", tiny_weights, "--host", host, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "127.0.0.1" in result.stderr and "--host" in result.stderr
    assert result.stdout == ""  # never announced, never listened
    with pytest.raises(ValueError, match="127.0.0.1"):
        check_loopback(host)


def test_localhost_means_127_0_0_1(start_server):
    server = start_server("--host", "localhost")
    assert server.announcement["url"].startswith("http://127.0.0.1:")
    assert server.request("GET", "/health").status == 200


def test_it_exits_by_itself_after_the_idle_timeout(start_server):
    server = start_server("--idle-timeout", str(IDLE_S))
    assert server.request("GET", "/health").json()["idle_timeout_s"] == IDLE_S
    last_request = time.monotonic()
    assert server.wait_exit(timeout=60) == 0
    waited = time.monotonic() - last_request
    assert IDLE_S - 0.2 <= waited < IDLE_S + 20, waited
    assert last_event(server) == {"event": "stopped", "reason": "idle"}


def test_requests_keep_it_alive_and_it_exits_once_they_stop(start_server):
    server = start_server("--idle-timeout", str(IDLE_S))
    until = time.monotonic() + 2.5 * IDLE_S
    while time.monotonic() < until:
        assert server.request("GET", "/health").status == 200
        assert server.process.poll() is None
        time.sleep(IDLE_S / 4)
    assert server.wait_exit(timeout=60) == 0
    assert last_event(server)["reason"] == "idle"


def test_requests_without_the_token_do_not_keep_it_alive(start_server):
    server = start_server("--idle-timeout", str(IDLE_S))
    start = time.monotonic()
    while server.process.poll() is None and time.monotonic() - start < 30:
        try:
            server.request("GET", "/health", token="wrong", timeout=5)
        except OSError:
            break  # it closed while we asked
        time.sleep(IDLE_S / 4)
    assert server.wait_exit(timeout=30) == 0
    assert time.monotonic() - start < 25
    assert last_event(server)["reason"] == "idle"


def test_a_running_job_keeps_it_alive(start_server, long_shot, tmp_path):
    """Nobody asks anything while the job runs (longer than the idle timeout); the server must not
    exit (which would cancel the job) until the job has finished."""
    server = start_server("--idle-timeout", str(IDLE_S), plate=str(long_shot / "plate.####.exr"))
    response = server.request("POST", "/jobs", {"prompts": str(long_shot / "prompts.json"),
                                                "output": str(tmp_path / "k.####.exr"), "threads": 1})
    assert response.status == 202, response
    started = time.monotonic()
    assert server.wait_exit(timeout=300) == 0
    assert time.monotonic() - started > IDLE_S
    assert last_event(server)["reason"] == "idle"
    assert len(list(tmp_path.glob("k.*.exr"))) == 32  # the job ran to its end


def test_shutdown_request_and_sigterm_stop_it_cleanly(start_server):
    server = start_server()
    response = server.request("POST", "/shutdown")
    assert response.status == 200 and response.json() == {"status": "stopping"}
    assert server.wait_exit(timeout=30) == 0
    assert last_event(server) == {"event": "stopped", "reason": "shutdown requested"}

    server = start_server()
    server.process.send_signal(signal.SIGTERM)
    assert server.wait_exit(timeout=30) == 0
    assert last_event(server) == {"event": "stopped", "reason": "terminated"}


def test_the_token_file_is_private_and_the_token_is_not_printed(start_server, tmp_path):
    token_file = tmp_path / "token"
    server = start_server("--token-file", token_file)
    assert "token" not in server.announcement and server.announcement["token_file"] == str(token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token not in "".join(server.stdout_lines)
    assert server.request("GET", "/health", token=token).status == 200
    assert server.request("GET", "/health", token=None).status == 401


def test_a_bad_plate_is_an_error_before_listening(tiny_weights, tmp_path):
    result = run_cli("serve", "--plate", tmp_path / "none.####.exr", "--weights", tiny_weights, timeout=120)
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "none.####.exr" in result.stderr and result.stdout == ""
