"""A journal of partition writes in progress: `<home>/writes/<partition key>.json`, one per write.

A partition's write spans commits that no transaction joins: the upsert of its variants into
LanceDB, one commit of its ownership rows and calls, then the Kuzu transaction. A writer killed in
between leaves the stores disagreeing about that file (or variants no file owns). The journal says
so: an entry is written before the first LanceDB commit and removed after the Kuzu commit, so an
entry whose process is gone marks an unfinished write. Queries warn about them; the next write
sweeps what they left in LanceDB (variants no file or curation holds), and the next complete write
(or the retraction) of the same partition clears its entry.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from vcf_pipeline.lib.system.processes import process_alive


@dataclass(frozen=True)
class PendingWrite:
    partition_key: str
    run_id: str
    pid: int
    host: str
    started_at: float
    swept: bool = False  # what it left has been swept; the entry stays until the partition is written again

    @property
    def alive(self) -> bool:
        """Whether its writer may still be at work (on another host: assumed so)."""
        return self.host != socket.gethostname() or process_alive(self.pid, started_by=self.started_at)

    def describe(self) -> str:
        state = "in progress" if self.alive else f"unfinished: its process {self.pid} is gone"
        return f"the write of {self.partition_key} (run {self.run_id[:8]}) is {state}"


class WriteJournal:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _entry(self, partition_key: str) -> Path:
        return self.folder / f"{quote(partition_key, safe='')}.json"

    def _put(self, write: PendingWrite) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._entry(write.partition_key)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(write)))
        os.replace(partial, path)

    def begin(self, partition_key: str, run_id: str) -> PendingWrite:
        write = PendingWrite(partition_key, run_id, os.getpid(), socket.gethostname(), time.time())
        self._put(write)
        return write

    def end(self, partition_key: str) -> None:
        self._entry(partition_key).unlink(missing_ok=True)

    def pending(self) -> list[PendingWrite]:
        """Writes begun and not ended (by a writer at work, or by one that died)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(PendingWrite(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # removed meanwhile, or half-written by a writer that died: nothing to say
        return found

    def unfinished(self) -> list[PendingWrite]:
        """Writes whose writer died before finishing."""
        return [w for w in self.pending() if not w.alive]

    def mark_swept(self, write: PendingWrite) -> None:
        self._put(PendingWrite(**{**asdict(write), "swept": True}))


def sweep_after_killed_writes(journal: WriteJournal, store) -> int:
    """Run by a LanceDB writer (holding the pool) before it writes: if a writer died between its
    commits, delete the variants no file holds (curated additions stay) and mark those entries
    swept. Returns the variants deleted."""
    unswept = [w for w in journal.unfinished() if not w.swept]
    if not unswept:
        return 0
    deleted = store.sweep_unowned()
    for write in unswept:
        journal.mark_swept(write)
    return deleted
