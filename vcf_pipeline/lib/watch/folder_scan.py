"""The one file walker: which files of a folder the pipeline ingests. `vcf-pipeline ingest` and the
folder sensor both list folders with it, so they always see the same files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", "~")


def is_candidate_name(name: str) -> bool:
    """A visible VCF/BCF (not an index) that is not a download or editor temporary (`a.vcf.part`, `a.vcf~`)."""
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(VCF_SUFFIXES) and not lower.endswith(TEMPORARY_SUFFIXES)


@dataclass(frozen=True)
class Entry:
    """What a listing tells of one file, before reading it."""

    size: int
    mtime_ns: int
    changed_ns: int  # the last change of any kind: mtime or ctime for a file, last-modified for an object
    etag: str = ""  # objects only

    @classmethod
    def of(cls, stat: os.stat_result) -> "Entry":
        # ctime moves on every write and on utime, so a copy that restores mtime (cp -p) still settles.
        return cls(stat.st_size, stat.st_mtime_ns, max(stat.st_mtime_ns, stat.st_ctime_ns))


@dataclass(frozen=True)
class Listing:
    files: dict[str, Entry]  # relative posix path -> the file (the target, for symlinks)
    refused: list[str]  # symlinks leading outside the folder


def list_folder(folder: Path) -> Listing:
    """Candidate files under `folder`, recursively; hidden entries skipped, symlinks checked."""
    root = folder.resolve()
    files: dict[str, Entry] = {}
    refused: list[str] = []
    pending = [root]
    while pending:
        current = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                relative = Path(entry.path).relative_to(root).as_posix()
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not target.is_relative_to(root):
                        refused.append(relative)
                        continue
                    # Linked folders inside the source are not walked (no loops, no duplicate keys).
                    if target.is_file() and is_candidate_name(entry.name):
                        files[relative] = Entry.of(target.stat())
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and is_candidate_name(entry.name):
                    files[relative] = Entry.of(entry.stat(follow_symlinks=False))
    return Listing(files, sorted(refused))



def find_vcf_files(paths: list[Path]) -> list[Path]:
    """Files named directly (whatever their name), and the candidate files `list_folder` finds in
    the folders named, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(path / relative for relative in sorted(list_folder(path).files))
        else:
            found.append(path)
    return found
