"""One scan of the watched source folders: which files are new, changed or gone since the last look.

The state between looks (the sensor's cursor) holds a fingerprint per file: size and mtime, which are
cheap to read, and the sha256 of the content, computed only when size or mtime moved (for an object:
its size, last-modified time and ETag, all from the listing). A file counts
once it has stopped changing for `settle_s` (so a half-copied file is never ingested), and hashing is
budgeted per look: a folder of thousands of new files is worked through over several looks.
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from vcf_pipeline.lib.watch.folder_scan import Entry
from vcf_pipeline.lib.watch.object_source import SourceUnavailable
from vcf_pipeline.lib.watch.partition_keys import decode_key, encode_key
from vcf_pipeline.lib.watch.sources import Sources

_STATE_VERSION = 1


@dataclass(frozen=True)
class Fingerprint:
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class WatchState:
    """What the last look saw: the fingerprint each file had when it was last acted on."""

    files: dict[str, Fingerprint] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # symlinks already reported, so they are logged once
    revision: int = 0  # counts requested runs; makes run keys unique even when content comes back

    def dumps(self) -> str:
        data = {
            "v": _STATE_VERSION,
            "revision": self.revision,
            "files": {k: [f.size, f.mtime_ns, f.sha256] for k, f in sorted(self.files.items())},
            "refused": sorted(self.refused),
        }
        # Compressed: the cursor of a 10k-file folder is stored by Dagster on every tick.
        return "z:" + base64.b64encode(zlib.compress(json.dumps(data, separators=(",", ":")).encode())).decode()

    @classmethod
    def loads(cls, cursor: str | None) -> "WatchState":
        if not cursor:
            # Seeded from the clock: after a cursor reset, run keys still do not collide with old ones.
            return cls(revision=int(time.time() * 1000))
        data = json.loads(zlib.decompress(base64.b64decode(cursor.removeprefix("z:"))))
        if data.get("v") != _STATE_VERSION:
            raise ValueError(f"unknown folder-watch cursor version {data.get('v')!r}")
        return cls(
            files={k: Fingerprint(*v) for k, v in data["files"].items()},
            refused=set(data["refused"]),
            revision=data["revision"],
        )


@dataclass(frozen=True)
class FileChange:
    partition_key: str
    sha256: str  # the content's id: a file's sha256, an object's ETag and size
    revision: int

    @property
    def run_key(self) -> str:
        # The hash says which content the run ingests; the revision keeps a reverted file from
        # being deduplicated against the run of its earlier, identical content.
        return f"{self.partition_key}|sha256:{self.sha256[:16]}|r{self.revision}"


@dataclass
class FolderChanges:
    """What one scan of the watched folders found, and the state for the next scan."""

    state: WatchState
    new: list[FileChange] = field(default_factory=list)
    changed: list[FileChange] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # registered earlier with this content: no run
    settling: list[str] = field(default_factory=list)
    deferred: int = 0  # left for the next look by the per-look budget
    refused: list[str] = field(default_factory=list)  # reported for the first time
    missing_sources: list[tuple[str, str]] = field(default_factory=list)  # (source, why it could not be listed)
    listed: int = 0

    @property
    def requests_nothing(self) -> bool:
        return not (self.new or self.changed or self.deleted)


def scan_for_changes(
    sources: Sources,
    state: WatchState,
    registered: set[str],
    *,
    parsed_content: Callable[[str], str | None] = lambda key: None,
    settle_s: float = 10.0,
    max_files: int = 500,
    max_hash_s: float = 20.0,
    now: float | None = None,
) -> FolderChanges:
    """Compare the watched folders with `state` and with the `registered` partition keys.

    `parsed_content(key)` tells the content a registered partition was last parsed from, so files
    ingested before the watch began (e.g. by `vcf-pipeline ingest`) are adopted, not re-run.
    """
    now = time.time() if now is None else now
    files = dict(state.files)
    result = FolderChanges(state=WatchState(files=files, refused=set(state.refused), revision=state.revision))
    present: dict[str, Entry] = {}
    listed_sources = set()
    for name in sources.watched:
        try:
            listing = sources.listing(name)
        except SourceUnavailable as exc:
            # An absent (e.g. unmounted) folder or an unreachable bucket is skipped, never read as
            # "all files deleted".
            result.missing_sources.append((name, str(exc)))
            continue
        listed_sources.add(name)
        for relative, entry in listing.files.items():
            present[encode_key(name, relative)] = entry
        for relative in listing.refused:
            shown = f"{name}/{relative}"
            if shown not in result.state.refused:
                result.refused.append(shown)
            result.state.refused.add(shown)
    result.listed = len(present)

    def in_listed_source(key: str) -> bool:
        try:
            return decode_key(key)[0] in listed_sources
        except ValueError:
            return False  # a key someone added by hand, not one of our files

    # Gone: registered (or remembered) files of a listed source that the listing no longer shows.
    gone = sorted(k for k in (registered | set(files)) if in_listed_source(k) and k not in present)
    for key in gone[:max_files]:
        files.pop(key, None)
        if key in registered:
            result.deleted.append(key)
    result.deferred += max(0, len(gone) - max_files)

    budget_ends = time.monotonic() + max_hash_s
    handled = 0
    for key, entry in sorted(present.items()):
        seen = files.get(key)
        if seen is not None and (seen.size, seen.mtime_ns) == (entry.size, entry.mtime_ns) and key in registered:
            continue  # unchanged: the common case costs one stat
        if now - entry.changed_ns / 1e9 < settle_s:
            result.settling.append(key)
            continue
        if handled >= max_files or time.monotonic() > budget_ends:
            result.deferred += 1
            continue
        handled += 1
        try:
            sha = sources.content_id(key, entry)
        except OSError:
            continue  # vanished or unreadable between listing and hashing: the next look decides
        files[key] = Fingerprint(entry.size, entry.mtime_ns, sha)
        if key in registered and (seen.sha256 if seen else parsed_content(key)) == sha:
            if seen is None:
                result.adopted.append(key)
            continue  # touched, or ingested before the watch began: same content, no run
        result.state.revision += 1
        change = FileChange(key, sha, result.state.revision)
        (result.changed if key in registered else result.new).append(change)
    return result
