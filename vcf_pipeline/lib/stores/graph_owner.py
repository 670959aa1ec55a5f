"""One Kuzu graph per deployment, and where the others read it.

Kuzu is one read-write process per database file, so a deployment of several machines cannot share
the graph the way it shares LanceDB in object storage. One Kuzu folder owns the graph: the first
to write claims it in the registry every machine sees (`Settings.registry`), and keeps the claim's
id in a hidden file beside the database, so a volume that moves between machines stays the owner.
A writer anywhere else is refused (it would start a second graph), and a reader anywhere else reads
the owner's latest complete snapshot in S3 (`kuzu_backup`), downloaded once per snapshot and
verified file by file, as `restore` does.

Why the snapshot and not a server: a read from the owner would need a service beside the run workers
and a way to reach it across the deployment, while the snapshots are already there, verified, and a
schedule (`backup.cron`, `backup --submit`) says how fresh they are. Answers from a snapshot say so.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot

REGISTRY_FILE = "graph.json"
MARKER = ".graph-id"  # in the Kuzu folder; never backed up, so a restored copy is no owner


class GraphElsewhere(RuntimeError):
    """This machine's Kuzu folder is not the deployment's graph."""


@dataclass(frozen=True)
class GraphOwnership:
    registry: WarehouseRoot
    kuzu_folder: Path

    def claim(self) -> dict:
        """Before a write: the registry's graph, claimed for this folder if nobody has; GraphElsewhere
        when another folder owns it."""
        owner = self.owner()
        if owner is None:
            owner = {"id": uuid.uuid4().hex, "host": socket.gethostname(), "path": str(self.kuzu_folder), "since": time.time()}
            self.kuzu_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.kuzu_folder / MARKER).write_text(owner["id"])
            self.registry.write_json(self._document(), owner)
            return owner
        if not self.holds(owner):
            raise GraphElsewhere(
                f"this deployment's graph is the Kuzu folder {owner['path']} on {owner['host']} (registered in {self.registry.uri}); "
                f"{self.kuzu_folder} is not it. Run graph writes (the kuzu_graph step, retraction, curation) where it lives, "
                "so that there is one graph"
            )
        return owner

    def owner(self) -> dict | None:
        return self.registry.read_json(self._document())

    def holds(self, owner: dict | None) -> bool:
        marker = self.kuzu_folder / MARKER
        return owner is None or (marker.is_file() and marker.read_text().strip() == owner["id"])

    def _document(self) -> str:
        return self.registry.path(REGISTRY_FILE)


def snapshot_copy(bucket, cache: Path) -> tuple[Path, str]:
    """The graph of the latest complete snapshot in `bucket`, downloaded (verified) into `cache`
    unless already there: (the database path, the snapshot id). Older copies are removed."""
    from vcf_pipeline.lib.backup.snapshots import SnapshotError

    snapshots = bucket.complete_snapshots()
    if not snapshots:
        raise SnapshotError("no complete snapshot in the bucket yet: run `vcf-pipeline backup --submit` on the deployment")
    snapshot_id = list(snapshots)[-1]
    folder = cache / snapshot_id
    if not (folder / "complete.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        bucket.download(snapshots[snapshot_id]["kuzu"], folder / "kuzu")
        (folder / "complete.json").write_text(json.dumps({"snapshot": snapshot_id, "at": time.time()}))
    for old in cache.iterdir():
        if old.name != snapshot_id:
            shutil.rmtree(old, ignore_errors=True)
    return folder / "kuzu" / "graph.kuzu", snapshot_id
