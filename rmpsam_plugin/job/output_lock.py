"""One run at a time on any frame of an output: a lock over the frames a run writes.

Two runs writing the same frames once deleted each other's `.partial` files and both failed
(exit 4), leaving frames missing. Farm segments of one shot, on the other hand, write disjoint
frames of the same output and must run side by side. So the lock covers a *range of frames*:
one lock file per output pattern (`<output dir>/.rmpsam_locks/<name>.<hash>.lock`) in which a
run holds a record lock over the bytes standing for its frames. Ranges
that overlap exclude each other; disjoint ranges do not.

Why record locks: the kernel releases them when the holder dies, however it dies (SIGKILL, a
node that loses power and whose NFS lease expires), so a stale lock cannot outlive its run and
needs no clean-up. Linux's open-file-description locks (`F_OFD_SETLK`) are used where they
exist: unlike classic POSIX locks they also exclude two jobs of one process (the preview server
runs several) and are not dropped when the process closes some other descriptor of the file.
Beside the lock, each run leaves a small holder file (pid, host, frames, start time) so that
the refusal can say who holds the frames; a holder file whose range is no longer locked is
stale and is removed by the next run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import struct
import time
from pathlib import Path

from rmpsam_plugin.errors import OutputError

_FRAME_OFFSET = 1 << 31
"""Byte offset of frame 0 in the lock file: frame numbers may be negative, byte offsets may not."""
_FLOCK = struct.Struct("hhqqi4x")
"""Linux's `struct flock` (l_type, l_whence, l_start, l_len, l_pid), as `fcntl.fcntl` takes it."""
_OFD_LOCKS = hasattr(fcntl, "F_OFD_SETLK")


class OutputLockedError(OutputError):
    """Another live run holds some of the frames this run would write."""


class OutputLock:
    """Exclusive hold on frames `first..last` of output `pattern`; use as a context manager."""

    def __init__(self, pattern: str, output_dir: Path, frames: tuple[int, int]) -> None:
        self.pattern = pattern
        self.frames = frames
        key = hashlib.sha256(os.path.realpath(pattern).encode()).hexdigest()[:16]
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(pattern).name)[:40]
        self.directory = Path(output_dir) / ".rmpsam_locks"
        self.lock_path = self.directory / f"{stem}.{key}.lock"
        self.holder_path = self.directory / f"{stem}.{key}.{socket.gethostname()}.{os.getpid()}.{id(self):x}.holder"
        self._handle: int | None = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise OutputError(f"cannot create the output lock {self.lock_path}: {error.strerror or error}",
                              path=self.lock_path) from None
        self._remove_stale_holders()  # probed before locking: a probe would see our own lock as another's
        try:
            _lock(handle, *self.frames)
        except OSError as error:
            os.close(handle)
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise OutputError(f"cannot lock {self.lock_path}: {error.strerror or error}",
                                  path=self.lock_path) from None
            raise OutputLockedError(self._refusal(), path=self.lock_path) from None
        self._handle = handle
        self._write_holder()

    def release(self) -> None:
        if self._handle is None:
            return
        with contextlib.suppress(OSError):
            self.holder_path.unlink()
        os.close(self._handle)  # closing the description drops its lock
        self._handle = None

    def _write_holder(self) -> None:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "frames": list(self.frames),
                  "output": self.pattern, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with contextlib.suppress(OSError):  # the record only improves a message; the lock is what counts
            self.holder_path.write_text(json.dumps(record))

    def _holders(self) -> list[tuple[Path, dict]]:
        prefix = self.lock_path.name[: -len(".lock")] + "."
        found = []
        for path in self.directory.glob(f"{prefix}*.holder"):
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(path.read_text())
                frames = record.get("frames") if isinstance(record, dict) else None
                if isinstance(frames, list) and len(frames) == 2 and all(isinstance(f, int) for f in frames):
                    found.append((path, record))
        return found

    def _remove_stale_holders(self) -> None:
        """Holder files of runs that died without removing them: their frames are no longer locked."""
        if not _OFD_LOCKS:
            return  # classic POSIX locks cannot be probed without dropping our own
        for path, record in self._holders():
            if not _is_locked(self.lock_path, *record["frames"]):
                with contextlib.suppress(OSError):
                    path.unlink()

    def _refusal(self) -> str:
        first, last = self.frames
        holders = sorted((record for _, record in self._holders()
                          if record["frames"][0] <= last and first <= record["frames"][1]), key=lambda r: r["frames"])
        who = "; ".join(f"pid {record.get('pid')} on {record.get('host')} (frames {record['frames'][0]}-"
                        f"{record['frames'][1]}, since {record.get('started')})" for record in holders)
        return (f"another run is writing frames of {self.pattern} within {first}-{last}"
                f"{': ' + who if who else ''}; wait for it to finish or choose another output "
                f"(lock file {self.lock_path})")


def _lock(handle: int, first: int, last: int) -> None:
    """Exclusive, non-blocking lock on frames first..last; OSError(EAGAIN/EACCES) when held elsewhere."""
    if _OFD_LOCKS:
        fcntl.fcntl(handle, fcntl.F_OFD_SETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, first + _FRAME_OFFSET,
                                                           last - first + 1, 0))
    else:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, last - first + 1, first + _FRAME_OFFSET)


def _is_locked(lock_path: Path, first: int, last: int) -> bool:
    """Whether any open file description holds a lock on frames first..last (takes none itself)."""
    try:
        probe = os.open(lock_path, os.O_RDWR)
    except OSError:
        return False
    try:
        answer = fcntl.fcntl(probe, fcntl.F_OFD_GETLK, _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET,
                                                                   first + _FRAME_OFFSET, last - first + 1, 0))
    finally:
        os.close(probe)
    return _FLOCK.unpack(answer)[0] != fcntl.F_UNLCK
