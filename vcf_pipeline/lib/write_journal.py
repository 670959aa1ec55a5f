"""A journal of store writes in progress: `<home>/writes/<store>--<key>.json`, one entry per write.

LanceDB has no transaction across tables: a partition's write is an upsert of its variants, then one
commit of its ownership rows and calls. A writer killed between the two leaves variants no file owns,
or a file's old calls beside its new variants. The journal says so: an entry is written before the
first commit and removed after the last, so an entry whose process is gone marks an unfinished write.
Queries warn about them; the next write sweeps what they left (variants no file or curation holds),
and the next complete write of the same partition clears its entry.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from vcf_pipeline.lib.processes import process_alive


@dataclass(frozen=True)
class PendingWrite:
    store: str
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
        return f"the {self.store} write of {self.partition_key} (run {self.run_id[:8]}) is {state}"


class WriteJournal:
    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _entry(self, store: str, partition_key: str) -> Path:
        return self.folder / f"{quote(f'{store}--{partition_key}', safe='')}.json"

    def begin(self, store: str, partition_key: str, run_id: str) -> PendingWrite:
        write = PendingWrite(store, partition_key, run_id, os.getpid(), socket.gethostname(), time.time())
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._entry(store, partition_key)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(write)))
        os.replace(partial, path)
        return write

    def end(self, store: str, partition_key: str) -> None:
        self._entry(store, partition_key).unlink(missing_ok=True)

    def pending(self, store: str | None = None) -> list[PendingWrite]:
        """Writes begun and not ended (by a writer at work, or by one that died)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                write = PendingWrite(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue  # removed meanwhile, or half-written by a writer that died: nothing to say
            if store is None or write.store == store:
                found.append(write)
        return found

    def unfinished(self, store: str | None = None) -> list[PendingWrite]:
        """Writes whose writer died before finishing."""
        return [w for w in self.pending(store) if not w.alive]

    def mark_swept(self, write: PendingWrite) -> None:
        path = self._entry(write.store, write.partition_key)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({**asdict(write), "swept": True}))
        os.replace(partial, path)


def sweep_after_killed_writes(journal: WriteJournal, store) -> int:
    """Run by a LanceDB writer (holding the pool) before it writes: if a writer died between its
    commits, delete the variants no file holds (curated additions stay) and mark those entries
    swept. Returns the variants deleted."""
    unswept = [w for w in journal.unfinished("lancedb") if not w.swept]
    if not unswept:
        return 0
    deleted = store.sweep_unowned()
    for write in unswept:
        journal.mark_swept(write)
    return deleted
