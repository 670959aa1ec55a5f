"""Starting child processes each in its own process group, and stopping every one of them: TERM
to the group, then KILL to whatever is left after a grace period. Children start with default
signal handling, since a parent shell may have left SIGINT/SIGTERM ignored."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def _reset_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_group(command: list[str], **popen_args) -> subprocess.Popen:
    """`command` as the leader of a new process group (its pid is the group id)."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_reset_signals, **popen_args)


def group_alive(process: subprocess.Popen) -> bool:
    """Whether anything of the process's group is still running (its leader reaped if it ended)."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_groups(processes: list[subprocess.Popen], grace_s: float = 10.0) -> None:
    """TERM the group of every process, wait up to `grace_s` for them to go, then KILL the rest."""
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(group_alive(p) for p in processes):
        time.sleep(0.2)
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


class _StopRequested(Exception):
    """Ctrl-C or TERM arrived."""


@dataclass
class Supervision:
    stopped: bool = False  # by Ctrl-C or TERM, rather than by a child ending


@contextmanager
def supervising(children: list[subprocess.Popen], grace_s: float = 10.0, announce=lambda: None) -> Iterator[Supervision]:
    """Within the block, Ctrl-C or TERM end it; however it ends, the group of every process in
    `children` (appended to as they start) is stopped. The signal handler only raises: stopping
    waits on the children, which the interrupted code may itself be waiting on (a `Popen.wait`
    re-entered from its own signal handler deadlocks on its lock)."""

    def requested(signum, frame):
        raise _StopRequested(signum)

    signal.signal(signal.SIGTERM, requested)
    signal.signal(signal.SIGINT, requested)
    supervision = Supervision()
    try:
        yield supervision
    except _StopRequested:
        supervision.stopped = True
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        announce()
        stop_groups(children, grace_s)
