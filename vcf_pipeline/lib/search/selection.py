"""Regions and gene lists: what `--region`, `--regions FILE.bed` and `--genes FILE` select, as SQL
for the `variants` table (built here from validated values, never from user text).

A region selects the variants that overlap it, as `bcftools view -r` does: a deletion that starts
before the region and reaches into it is in. Positions at the user boundary are 1-based and
inclusive (`chr17:43044295-43125483`, commas allowed); BED files are 0-based, half-open, as the
format says."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vcf_pipeline.lib.vcf.contigs import canonical_contig

_REGION = re.compile(r"(?P<chrom>[A-Za-z0-9_.|#*@+-]+?)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?)?")
_GENE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@/-]{0,63}")
MAX_POSITION = 2**31 - 1  # the largest position BCF can hold


class SelectionError(ValueError):
    """A region, BED file or gene list that cannot be read; says where and why."""


@dataclass(frozen=True)
class Region:
    """A 1-based, inclusive interval of one contig (store spelling)."""

    chrom: str
    start: int = 1
    end: int = MAX_POSITION

    def __str__(self) -> str:
        return self.chrom if (self.start, self.end) == (1, MAX_POSITION) else f"{self.chrom}:{self.start:,}-{self.end:,}"

    def sql(self, longest: int | None = None) -> str:
        """Overlap: starts at or before the region's end and ends at or after its start. Given the
        longest variant's span (`end - pos`) in the table, the start is bounded below too, which
        keeps the position index's range small (at 1M rows: 16 ms instead of 36)."""
        window = f" AND pos >= {max(1, self.start - longest)}" if longest is not None else ""
        return f"(chrom = {quoted(self.chrom)} AND pos <= {self.end}{window} AND `end` >= {self.start})"


def parse_region(text: str) -> Region:
    """`chr17:43044295-43125483`, `17:43,044,295-43,125,483`, `chr17:43044295` (one position) or
    `chr17` (the whole contig)."""
    match = _REGION.fullmatch(text.strip())
    if not match:
        raise SelectionError(f"region {text!r}: expected CHROM, CHROM:POS or CHROM:START-END (e.g. chr17:43044295-43125483)")
    start_text, end_text = match.group("start"), match.group("end")
    if start_text is None:
        return Region(canonical_contig(match.group("chrom")))
    start = int(start_text.replace(",", "") or 0)
    end = int(end_text.replace(",", "")) if end_text else start
    if start < 1 or end < start or end > MAX_POSITION:
        raise SelectionError(f"region {text!r}: positions are 1-based and the start cannot pass the end")
    return Region(canonical_contig(match.group("chrom")), start, end)


def looks_like_region(text: str) -> bool:
    """Whether a word of a query is a region with positions (`chr17:43044295-43125483`)."""
    match = _REGION.fullmatch(text.strip())
    return bool(match and match.group("start") and any(c.isdigit() for c in match.group("start")))


def read_bed(path: Path) -> list[Region]:
    """The regions of a BED file (chrom, 0-based start, end; further columns ignored; `track`,
    `browser` and `#` lines skipped)."""
    regions = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        try:
            chrom, start, end = fields[0], int(fields[1]), int(fields[2])
        except (IndexError, ValueError):
            raise SelectionError(f"{path}, line {number}: expected CHROM<TAB>START<TAB>END, found {line.strip()[:60]!r}") from None
        if start < 0 or end <= start or end > MAX_POSITION:
            raise SelectionError(f"{path}, line {number}: BED intervals are 0-based and half-open (start < end), found {start}-{end}")
        regions.append(Region(canonical_contig(chrom), start + 1, end))
    if not regions:
        raise SelectionError(f"{path}: no regions in it")
    return regions


def read_genes(path: Path) -> list[str]:
    """Gene symbols, one a line (`#` comments and blank lines skipped)."""
    genes = []
    for number, line in enumerate(_lines(path), start=1):
        symbol = line.split("#", 1)[0].strip()
        if not symbol:
            continue
        if not _GENE.fullmatch(symbol):
            raise SelectionError(f"{path}, line {number}: {symbol[:60]!r} is not a gene symbol (one symbol a line)")
        genes.append(symbol)
    if not genes:
        raise SelectionError(f"{path}: no gene symbols in it")
    return genes


def _lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SelectionError(f"{path}: cannot read it ({exc})") from exc


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Selection:
    """Regions (any of them) and genes (any of them); both given means both must hold."""

    regions: tuple[Region, ...] = ()
    genes: tuple[str, ...] = field(default=())

    def sql(self) -> str | None:
        clauses = []
        if self.regions:
            clauses.append(" OR ".join(r.sql() for r in self.regions))
        if self.genes:
            clauses.append(f"gene_symbol IN ({', '.join(map(quoted, self.genes))})")
        return all_of(*clauses)

    def describe(self) -> str:
        parts = []
        if self.regions:
            shown = ", ".join(map(str, self.regions[:3])) + (f" and {len(self.regions) - 3} more" if len(self.regions) > 3 else "")
            parts.append(f"regions {shown}")
        if self.genes:
            shown = ", ".join(self.genes[:5]) + (f" and {len(self.genes) - 5} more" if len(self.genes) > 5 else "")
            parts.append(f"genes {shown}")
        return "; ".join(parts)


# One query's SQL must stay inside what LanceDB parses (64,000 characters): about 70 a region, 12 a gene.
MAX_REGIONS = 500
MAX_GENES = 3_000


def merged(regions: list[Region]) -> list[Region]:
    """Overlapping or touching regions of one contig made one (as `bedtools merge` does)."""
    out: list[Region] = []
    for region in sorted(regions, key=lambda r: (r.chrom, r.start, r.end)):
        last = out[-1] if out else None
        if last is not None and last.chrom == region.chrom and region.start <= last.end + 1:
            out[-1] = Region(last.chrom, last.start, max(last.end, region.end))
        else:
            out.append(region)
    return out


def selection_from(region: list[str] | None = None, regions_file: Path | None = None, genes_file: Path | None = None) -> Selection:
    """The selection of the command-line options `--region` (repeatable), `--regions`, `--genes`."""
    regions = [parse_region(r) for r in region or []]
    if regions_file:
        regions += read_bed(regions_file)
    regions = merged(regions)
    if len(regions) > MAX_REGIONS:
        raise SelectionError(f"{len(regions):,} regions (after merging overlaps): one query takes at most {MAX_REGIONS}; split the BED file")
    genes = list(dict.fromkeys(read_genes(genes_file))) if genes_file else []
    if len(genes) > MAX_GENES:
        raise SelectionError(f"{genes_file}: {len(genes):,} genes; one query takes at most {MAX_GENES:,}: split the list")
    return Selection(tuple(regions), tuple(genes))


def all_of(*clauses: str | None) -> str | None:
    """SQL clauses joined with AND (each in parentheses); None when there are none."""
    present = [c for c in clauses if c]
    if not present:
        return None
    return present[0] if len(present) == 1 else " AND ".join(f"({c})" for c in present)


def selected_ids(table, sql: str) -> set[str]:
    """Ids of the `variants` rows that `sql` selects (one indexed scan of one column)."""
    rows = table.search().where(sql).select(["variant_id"]).limit(None).to_arrow()
    return set(rows["variant_id"].to_pylist())
