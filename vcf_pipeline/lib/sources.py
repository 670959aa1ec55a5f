"""Named source folders, and the mapping between files in them and partition keys.

Watched sources (the folder sensor keeps the stores in step with them): `incoming` is
`<home>/incoming`; more come from `<home>/sources.yaml` (`sources: {name: path}`) and from
`VCF_PIPELINE_SOURCES` (`name=path,name=path`), which wins. Registered sources are only looked up:
`vcf-pipeline ingest` records the other folders it was pointed at in `<home>/sources.json`, so that
later runs (and backfills) can find those files again.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from vcf_pipeline.lib.partition_keys import decode_key, encode_key

VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
DEFAULT_SOURCE = "incoming"


class UnknownSourceError(KeyError):
    """A partition key names a source that is not configured."""


def is_vcf_name(name: str) -> bool:
    """True for names the pipeline ingests: visible VCF/BCF files, not indexes or temporary files."""
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(VCF_SUFFIXES)


@dataclass(frozen=True)
class Sources:
    """The configured source folders of one pipeline home."""

    home: Path
    folders: dict[str, Path]
    watched: tuple[str, ...] = (DEFAULT_SOURCE,)

    @classmethod
    def load(cls, home: Path | str, env: str | None = None) -> "Sources":
        home = Path(home).resolve()
        folders: dict[str, Path] = {}
        registry = home / "sources.json"
        if registry.exists():
            folders.update({k: Path(v) for k, v in json.loads(registry.read_text()).items()})
        watched = {DEFAULT_SOURCE: home / "incoming", **_from_yaml(home / "sources.yaml", home)}
        env = os.environ.get("VCF_PIPELINE_SOURCES", "") if env is None else env
        for item in filter(None, (part.strip() for part in env.split(","))):
            name, sep, path = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"VCF_PIPELINE_SOURCES entry {item!r} is not name=path")
            watched[name.strip()] = _folder(path.strip(), home)
        folders.update(watched)
        return cls(home=home, folders=folders, watched=tuple(watched))

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
        self.home.mkdir(parents=True, exist_ok=True)
        registry.write_text(json.dumps(recorded, indent=2, sort_keys=True))
        return name

    def key_for(self, path: Path) -> str:
        """Partition key of a file, registering its folder as a source when no source holds it."""
        path = path.resolve()
        for name, folder in self.folders.items():
            if path.is_relative_to(folder):
                return encode_key(name, path.relative_to(folder).as_posix())
        return encode_key(self.register(path.parent), path.name)

    def path_for(self, key: str) -> Path:
        """The file a partition key stands for."""
        source, relative = decode_key(key)
        if source not in self.folders:
            raise UnknownSourceError(f"partition {key!r} names unknown source {source!r}")
        return self.folders[source] / relative


def _folder(path: str, home: Path) -> Path:
    folder = Path(path).expanduser()
    return (folder if folder.is_absolute() else home / folder).resolve()


def _from_yaml(path: Path, home: Path) -> dict[str, Path]:
    if not path.exists():
        return {}
    config = yaml.safe_load(path.read_text()) or {}
    entries = config.get("sources", {}) if isinstance(config, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
        raise ValueError(f"{path}: expected `sources:` mapping names to folder paths")
    return {str(name): _folder(folder, home) for name, folder in entries.items()}


def find_vcf_files(paths: list[Path]) -> list[Path]:
    """VCF/BCF files named directly or found (recursively, sorted) in the given folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and is_vcf_name(p.name)
            )
        else:
            found.append(path)
    return found
