"""Incremental, verified snapshots of the stores' folders in an S3 bucket.

Layout under `<prefix>/`:
- `blobs/<sha256[:2]>/<sha256>`: file contents, stored once by content. LanceDB files never change
  once written, so a backup uploads just the files the bucket does not hold yet (Kuzu keeps one
  database file: it goes again whenever it changed); an interrupted upload leaves blobs the next
  backup reuses.
- `snapshots/<id>/<store>.json`: one manifest per store (files, sizes, sha256, the ETag the server
  gave each blob, table versions and row counts), written after all its blobs. A snapshot is complete
  when every store's manifest is there.

A blob is reused only when the bucket's object still has the ETag recorded when it was uploaded (or,
with no ETag on record, when its bytes read back to the right sha256): an object whose bytes were
replaced or damaged is uploaded again by the next backup, and the backup check reports it.
Manifests are untrusted input: a path that is absolute or climbs out with `..` makes the manifest
broken, listed as such and never restored; one broken manifest never hides the good ones.

Plain Python over a boto3 S3 client: no Dagster here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from vcf_pipeline.lib.backup.s3_errors import check_bucket_name
from vcf_pipeline.lib.stores.warehouse import file_sha256

STORES = ("lancedb", "kuzu")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Larger files go up in parts (their ETag is then not an MD5 of the content, but still changes with it).
_SINGLE_PUT_MAX = 1 << 30


class SnapshotError(RuntimeError):
    """A snapshot is missing, incomplete or corrupt."""


class ManifestError(SnapshotError):
    """A manifest cannot be trusted: unreadable, or naming a path outside its store."""


class RestoreRefused(RuntimeError):
    """Restoring would replace a store that exists (and --force was not given)."""


@dataclass(frozen=True)
class FileRecord:
    path: str  # relative to the store's folder, POSIX separators
    size: int
    sha256: str
    etag: str = ""  # the server's ETag for the blob when this manifest was written ("" before it was kept)


def check_relative_path(path: str) -> str:
    """`path` if it is a plain relative POSIX path inside its folder; ManifestError otherwise."""
    parts = PurePosixPath(path).parts
    if (
        not path or "\\" in path or "\0" in path or path.startswith("/") or PurePosixPath(path).is_absolute()
        or any(part in ("..", ".", "") for part in parts) or path != PurePosixPath(path).as_posix()
    ):
        raise ManifestError(f"path {path!r} is not a plain relative path inside the store")
    return path


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
    def from_json(cls, text: str | bytes) -> "StoreManifest":
        """Parse and validate a manifest (every path relative and inside the store, every digest a
        sha256); ManifestError says what is wrong."""
        try:
            data = json.loads(text)
            data["files"] = [FileRecord(**f) for f in data["files"]]
            manifest = cls(**data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ManifestError(f"unreadable manifest ({type(exc).__name__}: {exc})") from None
        if manifest.store not in STORES:
            raise ManifestError(f"unknown store {manifest.store!r}")
        for record in manifest.files:
            check_relative_path(record.path)
            if not isinstance(record.sha256, str) or not _SHA256.fullmatch(record.sha256):
                raise ManifestError(f"{record.path}: {record.sha256!r} is not a sha256 digest")
            if not isinstance(record.size, int) or record.size < 0:
                raise ManifestError(f"{record.path}: size {record.size!r} is not a byte count")
        return manifest


class StoredBlob(NamedTuple):
    size: int
    etag: str


def _etag(value: str) -> str:
    return value.strip('"')


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
        check_bucket_name(bucket)
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

    def stored_blobs(self) -> dict[str, StoredBlob]:
        """sha256 -> (size, ETag) of every blob in the bucket."""
        return {obj["Key"].rsplit("/", 1)[1]: StoredBlob(obj["Size"], _etag(obj["ETag"])) for obj in self._list("blobs")}

    def _upload(self, path: Path, sha256: str) -> str:
        """Upload one file as the blob of `sha256`; returns the ETag the server gave it."""
        key = self.blob_key(sha256)
        if path.stat().st_size <= _SINGLE_PUT_MAX:
            with open(path, "rb") as body:
                return _etag(self.client.put_object(Bucket=self.bucket, Key=key, Body=body)["ETag"])
        self.client.upload_file(str(path), self.bucket, key)
        return _etag(self.client.head_object(Bucket=self.bucket, Key=key)["ETag"])

    def _reads_back_as(self, sha256: str, size: int) -> bool:
        """Whether the blob's bytes, read back, hash to `sha256` (for blobs with no ETag on record)."""
        digest, read = hashlib.sha256(), 0
        body = self.client.get_object(Bucket=self.bucket, Key=self.blob_key(sha256))["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
            read += len(chunk)
        return read == size and digest.hexdigest() == sha256

    def _intact(self, record: FileRecord, stored: StoredBlob | None, etag: str) -> bool:
        """Whether the bucket's object for `record` holds its bytes: present, at its size, with the
        ETag on record (or, with none on record, read back and hashed)."""
        if stored is None or stored.size != record.size:
            return False
        if etag:
            return stored.etag == etag
        return self._reads_back_as(record.sha256, record.size)

    def recorded_etags(self) -> dict[str, str]:
        """sha256 -> ETag, as the newest manifest listing each blob recorded it."""
        etags = {}
        for _, stores in sorted(self.manifests().items()):
            etags.update({f.sha256: f.etag for m in stores.values() for f in m.files if f.etag})
        return etags

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
        stored, etags = self.stored_blobs(), self.recorded_etags()
        manifest = StoreManifest(snapshot_id, store, datetime.now(timezone.utc).isoformat(timespec="seconds"), [], tables)
        for record in files:
            blob = stored.get(record.sha256)
            if self._intact(record, blob, etags.get(record.sha256, "")):
                manifest.files.append(replace(record, etag=blob.etag))
                manifest.reused_bytes += record.size
                continue
            etag = self._upload(root / record.path, record.sha256)
            stored[record.sha256], etags[record.sha256] = StoredBlob(record.size, etag), etag
            manifest.files.append(replace(record, etag=etag))
            manifest.uploaded_bytes += record.size
            manifest.uploaded_files += 1
            on_uploaded(record)
        self.client.put_object(Bucket=self.bucket, Key=self.manifest_key(snapshot_id, store), Body=manifest.to_json().encode())
        return manifest

    # --- reading snapshots ----------------------------------------------------------------------

    def read_manifests(self) -> tuple[dict[str, dict[str, StoreManifest]], dict[str, dict[str, str]]]:
        """(snapshot id -> store -> manifest, snapshot id -> store -> why its manifest is broken)."""
        found: dict[str, dict[str, StoreManifest]] = {}
        broken: dict[str, dict[str, str]] = {}
        for obj in self._list("snapshots"):
            snapshot_id, name = obj["Key"].rsplit("/", 2)[1:]
            store = name.removesuffix(".json")
            body = self.client.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
            try:
                manifest = StoreManifest.from_json(body)
                if manifest.store != store or manifest.snapshot_id != snapshot_id:
                    raise ManifestError(f"it says it is {manifest.snapshot_id}/{manifest.store}")
            except ManifestError as exc:
                broken.setdefault(snapshot_id, {})[store] = str(exc)
                continue
            found.setdefault(snapshot_id, {})[store] = manifest
        return found, broken

    def manifests(self) -> dict[str, dict[str, StoreManifest]]:
        """snapshot id -> store -> manifest, for every valid manifest in the bucket."""
        return self.read_manifests()[0]

    def complete_snapshots(self) -> dict[str, dict[str, StoreManifest]]:
        """Snapshots holding a valid manifest for every store (and no broken one), oldest first."""
        manifests, broken = self.read_manifests()
        return {k: v for k, v in sorted(manifests.items()) if all(s in v for s in STORES) and k not in broken}

    def latest_manifest(self, store: str) -> StoreManifest | None:
        """The newest manifest of `store`, complete snapshot or not (what the bucket check inspects)."""
        manifests = self.manifests()
        with_store = [k for k in sorted(manifests) if store in manifests[k]]
        return manifests[with_store[-1]][store] if with_store else None

    def missing_objects(self, manifest: StoreManifest) -> list[str]:
        """Files of `manifest` whose blob is absent from the bucket, has another size, or no longer
        holds the bytes it was uploaded with (see `_intact`)."""
        stored, etags = self.stored_blobs(), self.recorded_etags()
        return [
            f"{manifest.store}/{f.path}" for f in manifest.files
            if not self._intact(f, stored.get(f.sha256), f.etag or etags.get(f.sha256, ""))
        ]

    def download(self, manifest: StoreManifest, target: Path) -> None:
        """Fetch a store's files into `target`, verifying each file's sha256."""
        target.mkdir(parents=True, exist_ok=True, mode=0o700)  # even for a store that had no files yet
        inside = target.resolve()
        for record in manifest.files:
            path = target / check_relative_path(record.path)
            if not path.resolve().is_relative_to(inside):  # e.g. through a symlink already there
                raise ManifestError(f"snapshot {manifest.snapshot_id}: {manifest.store}/{record.path} leads outside {target}")
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
    manifests, broken = bucket.read_manifests()
    complete = bucket.complete_snapshots()
    if snapshot_id is None:
        if not complete:
            raise SnapshotError(f"no complete snapshot in s3://{bucket.bucket}/{bucket.prefix}")
        snapshot_id = list(complete)[-1]
    elif snapshot_id in broken:
        reasons = "; ".join(f"{store}: {why}" for store, why in sorted(broken[snapshot_id].items()))
        raise SnapshotError(f"snapshot {snapshot_id} has a broken manifest, nothing restored ({reasons})")
    elif snapshot_id not in complete:
        state = "incomplete (a backup that did not finish)" if snapshot_id in manifests else "not found"
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
