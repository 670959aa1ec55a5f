"""Named source folders, and the mapping between files in them and partition keys.

Watched sources (the folder sensor keeps the stores in step with them): `incoming` is
`<home>/incoming`; more come from the `sources:` section of the home's configuration file
(`sources: {name: path}`, or `{name: {path: ..., bad_records: skip, build: GRCh38, reference: fasta,
sample_namespace: lab1}}`: `bad_records: skip` counts and leaves out records that break the VCF rules
instead of failing the file; `build` is the genome build of every file in it, whatever their headers
say; `reference` the FASTA to normalise them against; `sample_namespace` prefixes its files' sample
names (`lab1:NA12878`) where another source uses the same names for other people; `incoming` may be
given such settings too) and from
`VCF_PIPELINE_SOURCES` (`name=path,name=path`), which wins. A path may be an object-store prefix,
`s3://bucket/prefix` (lib/watch/object_source.py), on the home's S3 endpoint with its credentials.
Registered sources are only looked up: `vcf-pipeline ingest` records the other folders it was pointed
at in `sources.json`, so that later runs (and backfills) can find those files again, and the build or
reference given to `ingest --build/--reference` for a file in `file_builds.json`, so that re-ingests
keep them. Those files are state the commands write, not configuration a person edits, so they stay
apart from the configuration file, in the registry the home's settings name (`Settings.registry`:
the home, or beside an object-store warehouse, where every machine sees them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot
from vcf_pipeline.lib.watch.folder_scan import Entry, Listing, list_folder
from vcf_pipeline.lib.watch.object_source import (
    ObjectPrefix,
    SourceUnavailable,
    content_id,
    downloaded,
    list_objects,
)
from vcf_pipeline.lib.watch.partition_keys import decode_key, encode_key

DEFAULT_SOURCE = "incoming"
PINS_FILE = "file_builds.json"
AUTO_BUILD = "auto"
_ENTRY_KEYS = {"path", "bad_records", "build", "reference", "sample_namespace"}
SOURCES_FILE = "sources.json"
FOLDER_IDS_FILE = "source_folders.json"  # source -> the id in its folder's marker, where the registry is shared
FOLDER_MARKER = ".vcf-pipeline-source"  # hidden: the folder walker skips it
Location = Path | ObjectPrefix


class UnknownSourceError(KeyError):
    """A partition key names a source that is not configured."""


@dataclass(frozen=True)
class Sources:
    """The configured source folders of one pipeline home."""

    home: Path
    folders: dict[str, Location]
    watched: tuple[str, ...] = (DEFAULT_SOURCE,)
    bad_records: dict[str, str] = field(default_factory=dict)  # source -> "fail" (default) or "skip"
    builds: dict[str, str] = field(default_factory=dict)  # source -> genome build its files are on
    references: dict[str, Path] = field(default_factory=dict)  # source -> FASTA
    sample_namespaces: dict[str, str] = field(default_factory=dict)  # source -> prefix of its sample names
    registry: WarehouseRoot | None = None  # where sources.json and file_builds.json live (None: the home)
    shared_registry: bool = False  # other machines use the registry too: local folders are claimed
    s3_client: Callable[[], object] | None = None  # a boto3 client of the home's S3 endpoint, for s3:// sources

    @classmethod
    def load(cls, home: Path | str, configured: dict | None = None, env: str | None = None, registry: WarehouseRoot | None = None,
             shared_registry: bool = False, s3_client: Callable[[], object] | None = None) -> "Sources":
        """The sources of `home`: `configured` is the `sources:` section of its configuration file."""
        home = Path(home).resolve()
        registry = registry or WarehouseRoot.local(home)
        folders: dict[str, Location] = {k: _folder(v, home) for k, v in (registry.read_json(registry.path(SOURCES_FILE)) or {}).items()}
        configured, options = _configured(configured or {}, home)
        watched = {DEFAULT_SOURCE: home / "incoming", **configured}
        env = os.environ.get("VCF_PIPELINE_SOURCES", "") if env is None else env
        for item in filter(None, (part.strip() for part in env.split(","))):
            name, sep, path = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"VCF_PIPELINE_SOURCES entry {item!r} is not name=path")
            watched[name.strip()] = _folder(path.strip(), home)
        folders.update(watched)
        return cls(home=home, folders=folders, watched=tuple(watched), registry=registry, shared_registry=shared_registry,
                   s3_client=s3_client, **options)

    def listing(self, name: str) -> Listing:
        """The candidate files of source `name` (SourceUnavailable when it cannot be listed, or when
        the folder at its path on this machine is not the source every machine means)."""
        where = self.folders[name]
        if isinstance(where, ObjectPrefix):
            return list_objects(self._client(), where)
        if not where.is_dir():
            raise SourceUnavailable(f"folder {where} does not exist")
        self._check_here(name, where)
        return list_folder(where)

    def _check_here(self, name: str, folder: Path) -> None:
        if self.shared_registry:
            claim_folder(self.registry, name, folder)

    def _is_here(self, name: str, folder: Path) -> bool:
        try:
            self._check_here(name, folder)
        except SourceUnavailable:
            return False
        return True

    def content_id(self, key: str, entry: Entry) -> str:
        """What a file's content is known by: an object's ETag and size, else the file's sha256."""
        from vcf_pipeline.lib.stores.warehouse import file_sha256

        where = self._location(key)
        return content_id(entry) if isinstance(where, ObjectPrefix) else file_sha256(self.path_for(key))

    @contextmanager
    def fetched(self, key: str) -> Iterator[tuple[Path, dict]]:
        """The partition's file as a local path pysam can read, and what to record of where it came
        from (an object's URI and content id; nothing for a local file)."""
        where = self._location(key)
        if isinstance(where, ObjectPrefix):
            with downloaded(self._client(), where, decode_key(key)[1]) as found:
                yield found
        else:
            self._check_here(decode_key(key)[0], where)
            yield self.path_for(key), {}

    def exists(self, key: str) -> bool:
        where = self._location(key)
        if isinstance(where, ObjectPrefix):
            return decode_key(key)[1] in self.listing(decode_key(key)[0]).files
        return self.path_for(key).is_file()

    def _client(self):
        if self.s3_client is None:
            raise SourceUnavailable("an s3:// source needs the home's S3 settings")
        return self.s3_client()

    def _location(self, key: str) -> Location:
        source = decode_key(key)[0]
        if source not in self.folders:
            raise UnknownSourceError(f"partition {key!r} names unknown source {source!r}")
        return self.folders[source]

    def register(self, folder: Path) -> str:
        """Name of the source for `folder`, recording a new one in `<home>/sources.json` if needed."""
        folder = folder.resolve()
        for name, known in self.folders.items():
            if known == folder and self._is_here(name, known):
                return name
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-") or "source"
        name, n = base, 1
        while name in self.folders:
            n += 1
            name = f"{base}-{n}"
        self.folders[name] = folder
        recorded = self.registry.read_json(self.registry.path(SOURCES_FILE)) or {}
        recorded[name] = str(folder)
        self.registry.write_json(self.registry.path(SOURCES_FILE), recorded)
        return name

    def key_for(self, path: Path) -> str:
        """Partition key of a file, registering its folder as a source when no source holds it."""
        path = path.resolve()
        for name, folder in self.folders.items():
            if isinstance(folder, Path) and path.is_relative_to(folder) and self._is_here(name, folder):
                return encode_key(name, path.relative_to(folder).as_posix())
        return encode_key(self.register(path.parent), path.name)

    def bad_records_for(self, key: str) -> str:
        """What to do with records that break the VCF rules in this partition's file: fail or skip."""
        return self.bad_records.get(decode_key(key)[0], "fail")

    def sample_namespace_for(self, key: str) -> str:
        """The prefix of this partition's sample names ("" for none)."""
        return self.sample_namespaces.get(decode_key(key)[0], "")

    def identity_for(self, key: str) -> dict:
        """What the user set for this file: `build` (and where it was set) and `reference`, from
        `ingest --build/--reference` for the file, else its source's configuration."""
        source = decode_key(key)[0]
        pinned = self._pins().get(key, {})
        found = {}
        if pinned.get("build"):
            found.update(build=pinned["build"], build_origin="vcf-pipeline ingest --build")
        elif source in self.builds:
            found.update(build=self.builds[source], build_origin=f"`build:` of source {source!r}")
        if pinned.get("reference") or source in self.references:
            found["reference"] = Path(pinned.get("reference") or self.references[source])
        return found

    def pin(self, keys: list[str], build: str | None = None, reference: Path | None = None) -> None:
        """Record `ingest --build/--reference` for these files, for every later run of them; build
        `auto` forgets a recorded build (the header decides again)."""
        if build is None and reference is None:
            return
        pins = self._pins()
        for key in keys:
            entry = pins.setdefault(key, {})
            if build == AUTO_BUILD:
                entry.pop("build", None)
            elif build is not None:
                entry["build"] = build
            if reference is not None:
                entry["reference"] = str(Path(reference).resolve())
        self.registry.write_json(self.registry.path(PINS_FILE), pins)

    def _pins(self) -> dict:
        return self.registry.read_json(self.registry.path(PINS_FILE)) or {}

    def path_for(self, key: str) -> Path | str:
        """The file a partition key stands for: a local path, or an object's s3:// URI."""
        where = self._location(key)
        return where.uri + decode_key(key)[1] if isinstance(where, ObjectPrefix) else where / decode_key(key)[1]


def claim_folder(registry: WarehouseRoot, name: str, folder: Path) -> None:
    """Where several machines share the registry, a local folder source is one folder on one machine
    (or one volume): the first to list it marks it with an id, recorded in the registry, and a folder
    at the same path elsewhere (another machine's own `incoming/`) is not listed, so its sensor never
    reads the source's files as deleted. SourceUnavailable names the folder that is the source."""
    import secrets
    import socket

    document = registry.path(FOLDER_IDS_FILE)
    recorded = registry.read_json(document) or {}
    marker = folder / FOLDER_MARKER
    mine = marker.read_text().strip() if marker.is_file() else ""
    known = recorded.get(name)
    if known is None:
        if not mine:
            mine = secrets.token_hex(8)
            try:
                marker.write_text(mine)
            except OSError as exc:
                raise SourceUnavailable(f"folder {folder} cannot be marked as source {name!r} ({exc}): make it writable once, "
                                        "or use an s3:// source") from None
        recorded[name] = {"id": mine, "host": socket.gethostname(), "path": str(folder)}
        registry.write_json(document, recorded)
    elif known["id"] != mine:
        raise SourceUnavailable(f"folder {folder} on this machine is not source {name!r}, which is {known['path']} on "
                                f"{known['host']}; only a machine that sees that folder (or its volume) lists it")


def _folder(path: str, home: Path) -> Location:
    if path.startswith("s3://"):
        return ObjectPrefix.parse(path)
    folder = Path(path).expanduser()
    return (folder if folder.is_absolute() else home / folder).resolve()


def _configured(entries: dict, home: Path) -> tuple[dict[str, Path], dict]:
    """(source -> folder, the per-source options of `Sources`) from the configuration's `sources:`."""
    from vcf_pipeline.lib.vcf.identity import BuildError, build_of

    folders: dict[str, Path] = {}
    options: dict[str, dict] = {"bad_records": {}, "builds": {}, "references": {}, "sample_namespaces": {}}
    for name, entry in entries.items():
        name = str(name)
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path", ""), str) or set(entry) - _ENTRY_KEYS:
            raise ValueError(f"source {name!r} must be a folder path or {{path: ..., bad_records: fail|skip, build: ..., reference: ..., sample_namespace: ...}}")
        policy = entry.get("bad_records", "fail")
        if policy not in ("fail", "skip"):
            raise ValueError(f"source {name!r}: bad_records must be fail or skip, not {policy!r}")
        if entry.get("path"):
            folders[name] = _folder(entry["path"], home)
        elif name != DEFAULT_SOURCE:
            raise ValueError(f"source {name!r} has no path")
        options["bad_records"][name] = policy
        if entry.get("build"):
            try:
                options["builds"][name] = build_of(str(entry["build"]))
            except BuildError as exc:
                raise ValueError(f"source {name!r}: {exc}") from None
        if entry.get("reference"):
            reference = Path(str(entry["reference"])).expanduser()
            options["references"][name] = (reference if reference.is_absolute() else home / reference).resolve()
        if entry.get("sample_namespace"):
            namespace = str(entry["sample_namespace"])
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", namespace):
                raise ValueError(f"source {name!r}: sample_namespace {namespace!r} may hold letters, digits, '_', '.' and '-' only")
            options["sample_namespaces"][name] = namespace
    return folders, options
