"""Whether a local process is still alive: the check behind run monitoring of local runs."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def _boot_time() -> float:
    for line in (_PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")


def process_alive(pid: int, started_by: float | None = None) -> bool:
    """True if `pid` runs and is not a zombie. With `started_by` (epoch seconds), a process that
    started later is another one that reused the pid, and counts as the original being gone."""
    if (_PROC / "self" / "stat").exists():
        try:
            text = (_PROC / str(pid) / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return False
        fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
        if fields[0] in ("Z", "X"):  # killed but not yet reaped by its parent
            return False
        if started_by is not None:
            started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
            return started <= started_by + 1.0
        return True
    try:  # no /proc (macOS): existence only
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
