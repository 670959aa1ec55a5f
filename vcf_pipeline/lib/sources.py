"""Named source folders, and the mapping between files in them and partition keys.

The default source `incoming` is `<home>/incoming`. More come from `VCF_PIPELINE_SOURCES`
(`name=path,name=path`) and from `<home>/sources.json`, where `vcf-pipeline ingest` records the
folders it was pointed at so that later runs (and the UI) can find the files again.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

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

    @classmethod
    def load(cls, home: Path | str, env: str | None = None) -> "Sources":
        home = Path(home).resolve()
        folders: dict[str, Path] = {DEFAULT_SOURCE: home / "incoming"}
        registry = home / "sources.json"
        if registry.exists():
            folders.update({k: Path(v) for k, v in json.loads(registry.read_text()).items()})
        env = os.environ.get("VCF_PIPELINE_SOURCES", "") if env is None else env
        for item in filter(None, (part.strip() for part in env.split(","))):
            name, sep, path = item.partition("=")
            if not sep:
                raise ValueError(f"VCF_PIPELINE_SOURCES entry {item!r} is not name=path")
            folders[name.strip()] = Path(path.strip()).expanduser().resolve()
        return cls(home=home, folders=folders)

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
