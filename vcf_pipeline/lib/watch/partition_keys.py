"""Partition keys: one per VCF file, `<source>/<relative path>`, readable and reversible.

Dagster's CLI splits partition lists on `,` and ranges on `...`, so those (and `%` itself and control
characters) are percent-encoded; everything else stays as the user wrote it.
"""

from __future__ import annotations

from urllib.parse import unquote


def _escape(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        dotted_run = ch == "." and (
            (i > 0 and text[i - 1] == ".") or (i + 1 < len(text) and text[i + 1] == ".")
        )
        if ch in "%," or ord(ch) < 0x20 or ord(ch) == 0x7F or dotted_run:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def encode_key(source: str, relative_path: str) -> str:
    """Partition key for the file at `relative_path` (POSIX separators) inside source `source`."""
    if not source or "/" in source:
        raise ValueError(f"source name must be non-empty and contain no '/': {source!r}")
    return f"{_escape(source)}/{_escape(relative_path)}"


def decode_key(key: str) -> tuple[str, str]:
    """(source, relative path) of a partition key made by `encode_key`."""
    source, sep, relative = key.partition("/")
    if not sep or not source or not relative:
        raise ValueError(f"not a vcf_pipeline partition key (expected '<source>/<path>'): {key!r}")
    return unquote(source), unquote(relative)


def storage_name(key: str) -> str:
    """A single path component naming a partition on disk (for warehouse folders)."""
    return key.replace("%", "%25").replace("/", "%2F")
