"""Named source folders, and the mapping between files in them and partition keys.

Watched sources (the folder sensor keeps the stores in step with them): `incoming` is
`<home>/incoming`; more come from the `sources:` section of the home's configuration file
(`sources: {name: path}`, or `{name: {path: ..., bad_records: skip, build: GRCh38, reference: fasta,
sample_namespace: lab1}}`: `bad_records: skip` counts and leaves out records that break the VCF rules
instead of failing the file; `build` is the genome build of every file in it, whatever their headers
say; `reference` the FASTA to normalise them against; `sample_namespace` prefixes its files' sample
names (`lab1:NA12878`) where another source uses the same names for other people; `incoming` may be
given such settings too) and from
`VCF_PIPELINE_SOURCES` (`name=path,name=path`), which wins. Registered sources are only looked up:
`vcf-pipeline ingest` records the other folders it was pointed at in `<home>/sources.json`, so that
later runs (and backfills) can find those files again, and the build or reference given to
`ingest --build/--reference` for a file in `<home>/file_builds.json`, so that re-ingests keep them.
Those files are state the commands write, not configuration a person edits, so they stay apart from
the configuration file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from vcf_pipeline.lib.watch.partition_keys import decode_key, encode_key

DEFAULT_SOURCE = "incoming"
PINS_FILE = "file_builds.json"
AUTO_BUILD = "auto"
_ENTRY_KEYS = {"path", "bad_records", "build", "reference", "sample_namespace"}


class UnknownSourceError(KeyError):
    """A partition key names a source that is not configured."""


@dataclass(frozen=True)
class Sources:
    """The configured source folders of one pipeline home."""

    home: Path
    folders: dict[str, Path]
    watched: tuple[str, ...] = (DEFAULT_SOURCE,)
    bad_records: dict[str, str] = field(default_factory=dict)  # source -> "fail" (default) or "skip"
    builds: dict[str, str] = field(default_factory=dict)  # source -> genome build its files are on
    references: dict[str, Path] = field(default_factory=dict)  # source -> FASTA
    sample_namespaces: dict[str, str] = field(default_factory=dict)  # source -> prefix of its sample names

    @classmethod
    def load(cls, home: Path | str, configured: dict | None = None, env: str | None = None) -> "Sources":
        """The sources of `home`: `configured` is the `sources:` section of its configuration file."""
        home = Path(home).resolve()
        folders: dict[str, Path] = {}
        registry = home / "sources.json"
        if registry.exists():
            folders.update({k: Path(v) for k, v in json.loads(registry.read_text()).items()})
        configured, options = _configured(configured or {}, home)
        watched = {DEFAULT_SOURCE: home / "incoming", **configured}
        env = os.environ.get("VCF_PIPELINE_SOURCES", "") if env is None else env
        for item in filter(None, (part.strip() for part in env.split(","))):
            name, sep, path = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"VCF_PIPELINE_SOURCES entry {item!r} is not name=path")
            watched[name.strip()] = _folder(path.strip(), home)
        folders.update(watched)
        return cls(home=home, folders=folders, watched=tuple(watched), **options)

    def register(self, folder: Path) -> str:
        """Name of the source for `folder`, recording a new one in `<home>/sources.json` if needed."""
        folder = folder.resolve()
        for name, known in self.folders.items():
            if known == folder:
                return name
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-") or "source"
        name, n = base, 1
        while name in self.folders:
            n += 1
            name = f"{base}-{n}"
        self.folders[name] = folder
        registry = self.home / "sources.json"
        recorded = json.loads(registry.read_text()) if registry.exists() else {}
        recorded[name] = str(folder)
        _write_private(registry, recorded)
        return name

    def key_for(self, path: Path) -> str:
        """Partition key of a file, registering its folder as a source when no source holds it."""
        path = path.resolve()
        for name, folder in self.folders.items():
            if path.is_relative_to(folder):
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
        _write_private(self.home / PINS_FILE, pins)

    def _pins(self) -> dict:
        path = self.home / PINS_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def path_for(self, key: str) -> Path:
        """The file a partition key stands for."""
        source, relative = decode_key(key)
        if source not in self.folders:
            raise UnknownSourceError(f"partition {key!r} names unknown source {source!r}")
        return self.folders[source] / relative


def _write_private(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data, indent=2, sort_keys=True))
    os.chmod(path, 0o600)  # a file written before this rule


def _folder(path: str, home: Path) -> Path:
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
            options["references"][name] = _folder(str(entry["reference"]), home)
        if entry.get("sample_namespace"):
            namespace = str(entry["sample_namespace"])
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", namespace):
                raise ValueError(f"source {name!r}: sample_namespace {namespace!r} may hold letters, digits, '_', '.' and '-' only")
            options["sample_namespaces"][name] = namespace
    return folders, options
