"""What is wrong with a VCF/BCF file, in words: `VcfFormatError`, files cut short (a BGZF file
without its end-of-file block, a plain VCF whose last line lacks its line end) and the diagnosis
of a header or a line htslib refused (from a look at the raw bytes)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

# The empty BGZF block every complete BGZF file (bgzip, BCF) ends with.
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


class VcfFormatError(ValueError):
    """A VCF/BCF file that cannot be read, with the file, the place and the reason in words."""

    def __init__(self, path: Path | str, reason: str, where: str | None = None):
        self.path, self.reason, self.where = str(path), reason, where
        super().__init__(f"{self.path}: {where + ': ' if where else ''}{reason}")


def compression(path: Path) -> str:
    """`bgzf`, `gzip` (plain, not BGZF: BGZF blocks carry an extra field with the 'BC' subfield) or `none`."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:2] != b"\x1f\x8b":
        return "none"
    has_extra = len(head) >= 4 and head[3] & 0x04
    return "bgzf" if has_extra and head[12:14] == b"BC" else "gzip"


def ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return True  # empty: refused later, with its own reason
        fh.seek(-1, 2)
        return fh.read(1) == b"\n"


def check_complete(path: Path) -> None:
    """Refuse a BGZF file cut short: htslib would read it up to the cut and call it a whole file.
    (A plain VCF's last line is checked once its header is known: `VcfReader._last_line_problem`.)"""
    if compression(path) != "bgzf":
        return
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - len(BGZF_EOF)))
        if fh.read() != BGZF_EOF:
            raise VcfFormatError(path, "file is truncated: the BGZF end-of-file block is missing (an interrupted copy or write?)")


def last_line(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - (1 << 20)))
        return fh.read().rsplit(b"\n", 1)[-1].decode("utf-8", "replace")


def data_line_count(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip() and not line.startswith(b"#"))


def explain_open_failure(path: Path, exc: Exception) -> str:
    """Words for why htslib refused a file, from a look at its first bytes."""
    if path.stat().st_size == 0:
        return "file is empty (0 bytes): not a VCF/BCF file"
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if head[:2] == b"\x1f\x8b":
        return f"compressed file could not be read as VCF/BCF ({exc})"
    if b"\0" in head:
        line = head[: head.index(b"\0")].count(b"\n") + 1
        return f"header line {line} holds a NUL byte (a binary or damaged file?)"
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if not lines[0].startswith("##fileformat=VCF"):
        return f"first line is not '##fileformat=VCFv4.x' (found {lines[0][:60]!r}); not a valid VCF header"
    chrom_line = next((ln for ln in lines if ln.startswith("#CHROM")), None)
    if chrom_line is None and len(head) < (1 << 16):
        return "header has no '#CHROM' column line"
    if chrom_line is not None:
        return (
            "the '#CHROM' header line is malformed (columns must be separated by single tabs, "
            f"with FORMAT before any sample names): {chrom_line[:80]!r}"
        )
    return f"invalid VCF header ({exc})"


def data_line(path: Path, number: int) -> str | None:
    """The `number`-th data line (1-based, header lines not counted) of a VCF, or None (BCF)."""
    if compression(path) == "bgzf":
        opener = lambda: gzip.open(path, "rt", encoding="utf-8", errors="replace")  # noqa: E731
    else:
        opener = lambda: open(path, encoding="utf-8", errors="replace")  # noqa: E731
    try:
        with opener() as fh:
            seen = 0
            for line in fh:
                if line.startswith("#"):
                    continue
                seen += 1
                if seen == number:
                    return line.rstrip("\r\n")
    except (OSError, EOFError, zlib.error):
        return None
    return None
