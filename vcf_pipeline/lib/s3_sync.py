"""Incremental, verified snapshots of the stores' folders in an S3 bucket.

Layout under `<prefix>/`:
- `blobs/<sha256[:2]>/<sha256>`: file contents, stored once by content. LanceDB files never change
  once written, so a backup uploads just the files the bucket does not hold yet (Kuzu keeps one
  database file: it goes again whenever it changed); an interrupted upload leaves blobs the next
  backup reuses.
- `snapshots/<id>/<store>.json`: one manifest per store (files, sizes, sha256, table versions and row
  counts), written after all its blobs. A snapshot is complete when every store's manifest is there.

Plain Python over a boto3 S3 client: no Dagster here.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from vcf_pipeline.lib.warehouse import file_sha256

STORES = ("lancedb", "kuzu")


class SnapshotError(RuntimeError):
    """A snapshot is missing, incomplete or corrupt."""


class RestoreRefused(RuntimeError):
    """Restoring would replace a store that exists (and --force was not given)."""


@dataclass(frozen=True)
class FileRecord:
    path: str  # relative to the store's folder, POSIX separators
    size: int
    sha256: str


@dataclass
class StoreManifest:
    snapshot_id: str
    store: str
    created_at: str
    files: list[FileRecord]
    tables: dict = field(default_factory=dict)  # e.g. {"variants": {"version": 7, "rows": 2340}}
    uploaded_bytes: int = 0
    reused_bytes: int = 0
    uploaded_files: int = 0

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "StoreManifest":
        data = json.loads(text)
        data["files"] = [FileRecord(**f) for f in data["files"]]
        return cls(**data)


def new_snapshot_id(when: float, tag: str) -> str:
    """Sortable by time: `20261121T160000Z-<tag>`."""
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{tag}"


def scan_folder(root: Path, skip: Callable[[str], bool] = lambda path: False) -> list[FileRecord]:
    """Every file under `root` with its size and sha256, in path order."""
    records = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if not skip(relative):
            records.append(FileRecord(relative, path.stat().st_size, file_sha256(path)))
    return records


class SnapshotBucket:
    """Snapshots under `prefix` in `bucket`, through a boto3 S3 `client`."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def blob_key(self, sha256: str) -> str:
        return self._key("blobs", sha256[:2], sha256)

    def manifest_key(self, snapshot_id: str, store: str) -> str:
        return self._key("snapshots", snapshot_id, f"{store}.json")

    def _list(self, *parts: str) -> Iterable[dict]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(*parts) + "/")
        for page in pages:
            yield from page.get("Contents", [])

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def stored_blobs(self) -> dict[str, int]:
        """sha256 -> size of every blob in the bucket."""
        return {obj["Key"].rsplit("/", 1)[1]: obj["Size"] for obj in self._list("blobs")}

    # --- backup -------------------------------------------------------------------------------

    def back_up(
        self,
        snapshot_id: str,
        store: str,
        files: list[FileRecord],
        root: Path,
        tables: dict,
        on_uploaded: Callable[[FileRecord], None] = lambda record: None,
    ) -> StoreManifest:
        """Upload the blobs the bucket lacks, then the manifest (last: until then the snapshot is
        incomplete, and a restore ignores it)."""
        self.ensure_bucket()
        stored = self.stored_blobs()
        manifest = StoreManifest(snapshot_id, store, datetime.now(timezone.utc).isoformat(timespec="seconds"), files, tables)
        for record in files:
            if stored.get(record.sha256) == record.size:
                manifest.reused_bytes += record.size
                continue
            self.client.upload_file(str(root / record.path), self.bucket, self.blob_key(record.sha256))
            stored[record.sha256] = record.size
            manifest.uploaded_bytes += record.size
            manifest.uploaded_files += 1
            on_uploaded(record)
        self.client.put_object(Bucket=self.bucket, Key=self.manifest_key(snapshot_id, store), Body=manifest.to_json().encode())
        return manifest

    # --- reading snapshots ----------------------------------------------------------------------

    def manifests(self) -> dict[str, dict[str, StoreManifest]]:
        """snapshot id -> store -> manifest, for every manifest in the bucket."""
        found: dict[str, dict[str, StoreManifest]] = {}
        for obj in self._list("snapshots"):
            snapshot_id, name = obj["Key"].rsplit("/", 2)[1:]
            body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
            found.setdefault(snapshot_id, {})[name.removesuffix(".json")] = StoreManifest.from_json(body.decode())
        return found

    def complete_snapshots(self) -> dict[str, dict[str, StoreManifest]]:
        """Snapshots holding a manifest for every store, oldest first."""
        return {k: v for k, v in sorted(self.manifests().items()) if all(s in v for s in STORES)}

    def latest_manifest(self, store: str) -> StoreManifest | None:
        """The newest manifest of `store`, complete snapshot or not (what the bucket check inspects)."""
        manifests = self.manifests()
        with_store = [k for k in sorted(manifests) if store in manifests[k]]
        return manifests[with_store[-1]][store] if with_store else None

    def missing_objects(self, manifest: StoreManifest) -> list[str]:
        """Files of `manifest` whose blob is absent from the bucket or has another size."""
        stored = self.stored_blobs()
        return [f"{manifest.store}/{f.path}" for f in manifest.files if stored.get(f.sha256) != f.size]

    def download(self, manifest: StoreManifest, target: Path) -> None:
        """Fetch a store's files into `target`, verifying each file's sha256."""
        target.mkdir(parents=True, exist_ok=True, mode=0o700)  # even for a store that had no files yet
        for record in manifest.files:
            path = target / record.path
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = self.blob_key(record.sha256)
            try:
                self.client.download_file(self.bucket, key, str(path))
            except self.client.exceptions.ClientError as exc:
                raise SnapshotError(f"snapshot {manifest.snapshot_id}: {manifest.store}/{record.path} is missing from the bucket ({key})") from exc
            if path.stat().st_size != record.size or file_sha256(path) != record.sha256:
                raise SnapshotError(
                    f"snapshot {manifest.snapshot_id}: {manifest.store}/{record.path} failed its checksum "
                    f"(object s3://{self.bucket}/{key} does not hold the bytes the manifest lists)"
                )

    # --- retention ------------------------------------------------------------------------------

    def prune(self, keep: int, grace_s: float = 3600.0) -> tuple[list[str], int]:
        """Keep the newest `keep` complete snapshots (and anything newer); delete older manifests and
        the blobs no kept manifest lists. Blobs younger than `grace_s` stay: they may belong to a
        backup still uploading. Returns (snapshot ids deleted, blobs deleted)."""
        manifests = self.manifests()
        complete = [k for k in sorted(manifests) if all(s in manifests[k] for s in STORES)]
        if len(complete) <= keep:
            return [], 0
        oldest_kept = complete[-keep]
        dropped = [k for k in sorted(manifests) if k < oldest_kept]
        for snapshot_id in dropped:
            for store in manifests[snapshot_id]:
                self.client.delete_object(Bucket=self.bucket, Key=self.manifest_key(snapshot_id, store))
        needed = {f.sha256 for k, stores in manifests.items() if k not in dropped for m in stores.values() for f in m.files}
        cutoff = time.time() - grace_s
        deleted = 0
        for obj in self._list("blobs"):
            if obj["Key"].rsplit("/", 1)[1] not in needed and obj["LastModified"].timestamp() < cutoff:
                self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                deleted += 1
        return dropped, deleted


def restore_snapshot(
    bucket: SnapshotBucket,
    home: Path,
    snapshot_id: str | None,
    force: bool,
    verify_counts: Callable[[str, Path, StoreManifest], None],
) -> str:
    """Rebuild `<home>/lancedb` and `<home>/kuzu` from a complete snapshot (the newest unless named).

    Everything is downloaded and verified (checksums, then `verify_counts` per store) into a staging
    folder first; existing stores are only then moved aside (`<store>.before-restore-<time>`), and
    only with `force`. Returns the snapshot id restored."""
    complete = bucket.complete_snapshots()
    if snapshot_id is None:
        if not complete:
            raise SnapshotError(f"no complete snapshot in s3://{bucket.bucket}/{bucket.prefix}")
        snapshot_id = list(complete)[-1]
    elif snapshot_id not in complete:
        state = "incomplete (a backup that did not finish)" if snapshot_id in bucket.manifests() else "not found"
        raise SnapshotError(f"snapshot {snapshot_id} is {state}")
    present = [s for s in STORES if (home / s).exists() and any((home / s).iterdir())]
    if present and not force:
        raise RestoreRefused(f"{', '.join(str(home / s) for s in present)} exist; restore with --force to replace them (they are kept aside)")
    staging = home / f".restore-{snapshot_id}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for store in STORES:
            manifest = complete[snapshot_id][store]
            bucket.download(manifest, staging / store)
            verify_counts(store, staging / store, manifest)
        aside = time.strftime("%Y%m%dT%H%M%S")
        for store in STORES:
            if (home / store).exists():
                os.replace(home / store, home / f"{store}.before-restore-{aside}")
            os.replace(staging / store, home / store)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return snapshot_id
