"""The preview server: a warm network answering clicks over loopback HTTP, and whole-shot jobs.

Artists place a click and want the matte back before their hand leaves the mouse. Loading the
network and running its backbone on a frame take seconds; decoding one more click on a frame
whose features are cached takes tens of milliseconds. `rmpsam-matte serve` therefore keeps the
network loaded and the features of recently used frames cached, and answers over HTTP on
127.0.0.1, so Nuke's Python (standard library only, see `nuke_bridge`) can ask without importing
torch. It also starts and watches whole-shot runs of the real `rmpsam-matte run` command.

Modules, one job each:
    auth.py            the per-session bearer token (generation, 0600 token file, checking)
    plate_frames.py    frame number -> network-ready image of the plate being previewed
    sessions.py        the warm model, the frame-feature LRU, the model lock
    matte_encoding.py  matte -> PNG (8-bit) or raw float16, base64 for JSON
    request_bodies.py  JSON bodies -> checked requests, errors naming the field at fault, size caps
    jobs.py            whole-shot runs as subprocesses of the CLI, progress, events, cancel, jobs at once
    job_paths.py       where a job may write: inside the output root, never over the plate
    child_limits.py    a job's resource limits (data memory, no core dumps), set in the child
    idle.py            the idle timer that ends a forgotten server
    app.py             HTTP routing, status codes, the request deadline, the threaded server itself

Protocol (every request needs exactly `Authorization: Bearer <token>`; every answer is JSON):
    GET    /health              plate, model, cached frames, jobs
    POST   /decode              {"frame", "positive_clicks", "negative_clicks", "boxes", "encoding"}
    POST   /jobs                {"prompts", "output", "frames"?, "instances"?, ...} -> 202 + job
                                (paths relative to the output root; the output must resolve inside it)
    GET    /jobs                all jobs
    GET    /jobs/<id>           one job's state and progress
    GET    /jobs/<id>/events    the job's JSON lines, streamed until it ends
    DELETE /jobs/<id>           cancel: the process is terminated, the state becomes "cancelled"
    POST   /shutdown            stop now (running jobs are cancelled)
Errors are `{"status": N, "error": "<reason>", "message": "...", "field": "..."?}` with 400
(malformed JSON or request line, a malformed Content-Length, a field that breaks the rules or a
cap such as the prompts per decode; `field` names it), 401 (token missing or wrong), 403 (a job
output outside the output root, or over the plate), 404 (unknown path, frame not in the plate,
unknown job), 405 (wrong or unknown method; `Allow` lists the right ones), 408 (the request did
not arrive whole before its deadline), 409 (cancelling a finished job), 411 (no Content-Length),
413 (body over the limit), 414/431 (request line or headers too long), 422 (the frame exists but
cannot be used: unreadable, or another size than the plate), 429 (jobs at once, or the network
busy for too long; `Retry-After` says when to ask again). A 5xx is a bug of the server.
The limits (the README's "Preview server" lists them with their options) are in `GET /health`.
Proved over real loopback HTTP by tests/server; latency measured by `rmpsam-matte bench serve`.
"""
