"""What a stored record must satisfy (VCF 4.3 section 1.6.1), and words for a line htslib refused.

htslib reads much that the specification forbids (REF `ZZZ`, ALT `A T`, CHROM `chr 1`, POS 0, REF
equal to ALT); such rows must never become variants. `record_problem` names what is wrong with one
record's fields, `line_problem` says why a raw line could not be parsed at all.
"""

from __future__ import annotations

import re

MAX_POS = 2**31 - 1  # htslib's limit: positions are 32-bit signed
# VCF 4.3 contig names: no whitespace, commas, quotes or angle/square brackets; `*` and `=` not first.
# VCF 4.1/4.2 also allow an angle-bracketed ID pointing into an assembly file (`<ctg1>`).
CONTIG_NAME = re.compile(r"[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*|<[0-9A-Za-z!#$%&*+./:;=?@^_|~-]+>")
_BASES = re.compile(r"[ACGTNacgtn]+")
_SYMBOLIC = re.compile(r"<[^<>\s,]+>")
# Breakends: t[p[, t]p], ]p]t, [p[t (p = chrom:pos, or a <contig>:pos), and single breakends .t / t.
_BREAKEND = re.compile(
    r"[ACGTNacgtn]+[\[\]](?:<[^<>\s,]+>|[^\[\]\s,<>:]+):\d+[\[\]]|[\[\]](?:<[^<>\s,]+>|[^\[\]\s,<>:]+):\d+[\[\]][ACGTNacgtn]+"
    r"|\.[ACGTNacgtn]+|[ACGTNacgtn]+\."
)
NO_ALT = (".", "*")  # no alternate allele / an allele deleted upstream: counted, not stored


def alt_is_valid(alt: str) -> bool:
    return bool(_BASES.fullmatch(alt) or _SYMBOLIC.fullmatch(alt) or _BREAKEND.fullmatch(alt))


def record_problem(chrom: str, pos: int, ref: str, alts: tuple[str, ...]) -> str | None:
    """Why this record may not be stored, in words, or None when it follows the rules."""
    if not CONTIG_NAME.fullmatch(chrom or ""):
        return f"CHROM {chrom!r} is not a valid contig name (no whitespace, commas, quotes or brackets)"
    if not 0 <= pos <= MAX_POS:  # 0 is a telomere (the caller counts such records, never stores them)
        return f"POS {pos} is out of range (0 to {MAX_POS})"
    if not _BASES.fullmatch(ref or ""):
        return f"REF {ref!r} is not a sequence of A, C, G, T, N"
    for alt in alts:
        if alt in NO_ALT or alt in ("<NON_REF>", "<*>"):
            continue
        if not alt_is_valid(alt):
            return f"ALT {alt!r} is neither bases, a symbolic <ID> nor a breakend"
        if alt.upper() == ref.upper():
            return f"ALT {alt!r} equals REF"
    return None


def line_problem(line: str, header_columns: int) -> str:
    """Words for why htslib could not parse `line` (a data line), from a look at its fields."""
    if not line.strip():
        return "a blank line among the records"
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 8:
        return f"{len(fields)} tab-separated columns, a record needs at least 8"
    if header_columns and len(fields) != header_columns:
        return f"{len(fields)} tab-separated columns, the #CHROM line has {header_columns}"
    chrom, pos, _, ref, alt, qual = fields[:6]
    if not CONTIG_NAME.fullmatch(chrom):
        return f"CHROM {chrom!r} is not a valid contig name"
    if not pos.isdigit():
        return f"POS {pos!r} is not a position (a positive whole number)"
    if not ref or ref == ".":
        return "REF is missing"
    if qual != "." and not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[-+]?(inf|nan)", qual, re.IGNORECASE):
        return f"QUAL {qual!r} is not a number"
    if not alt:
        return "ALT is empty"
    if len(fields) > 8:
        keys = fields[8].split(":")
        if any(not re.fullmatch(r"[A-Za-z_][0-9A-Za-z_.]*", key) for key in keys):
            return f"FORMAT {fields[8]!r} holds an invalid key"
        if len(set(keys)) < len(keys):
            return f"FORMAT {fields[8]!r} names a key twice"
        if "GT" in keys and keys[0] != "GT":
            return f"FORMAT {fields[8]!r}: GT must come first"
        for i, sample in enumerate(fields[9:], start=1):
            values = sample.split(":")
            if len(values) > len(keys):
                return f"sample column {i} has more fields than FORMAT {fields[8]!r}"
            if keys[0] == "GT" and not re.fullmatch(r"(\.|\d+)([/|](\.|\d+))*", values[0]):
                return f"sample column {i}: GT {values[0]!r} is not a genotype"
    return "htslib could not parse it (a value that does not match its header Type or Number?)"


def unterminated_line_problem(line: str, header_columns: int, info_ids: set[str], subfields: dict[str, int]) -> str | None:
    """Why a last line without a line end looks cut, or None when it looks whole: every column
    there, every INFO key declared, every transcript annotation (CSQ/ANN) entry with all its
    subfields. (A cut inside a final value that still parses cannot be seen; such a file is read.)"""
    fields = line.rstrip("\r").split("\t")
    if len(fields) != header_columns:
        return f"its last line has {len(fields)} of {header_columns} columns and no line end: the file was cut"
    items = fields[7].split(";") if fields[7] != "." else []
    for n, item in enumerate(items, start=1):
        key, _, value = item.partition("=")
        if key not in info_ids and n == len(items) and header_columns == 8:  # INFO is where the line ends
            return f"its last line ends in INFO key {key!r}, which the header does not declare, and has no line end: the file was cut"
        if key in subfields:
            for entry in value.split(","):
                if entry.count("|") + 1 != subfields[key]:
                    return (
                        f"its last line's {key} entry has {entry.count('|') + 1} of {subfields[key]} subfields "
                        "and no line end: the file was cut"
                    )
    return None
