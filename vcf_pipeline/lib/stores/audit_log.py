"""The audit log of curation commands: `<home>/audit.log`, one JSON line per attempted write,
owner-only. Entries name the command, the columns touched, the rows affected and the outcome (`ok`,
`refused`, or `failed: <error type>`, nothing written); filters are logged with their literals
masked, and values (nor error messages, which may quote them) are never logged."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path


def append_audit(
    home: Path, command: str, rows: int, filter_masked: str | None = None, columns: list[str] | None = None, outcome: str = "ok"
) -> dict:
    entry = {
        "outcome": outcome,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "user": getpass.getuser(),
        "command": command,
        "filter": filter_masked,
        "columns": columns,
        "rows": rows,
    }
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(home / "audit.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as log:
        log.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry
