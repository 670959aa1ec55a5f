"""Allele normalisation as `bcftools norm` does it, for one ALT allele at a time (after the split).

Without a reference: the shared suffix, then the shared prefix, is trimmed (one base kept, the
position moved past what was dropped), so `TAAACCCTAAA>TAA` and `TAAACCCTA>T` are one variant.
With a reference FASTA: indels are also left-aligned (when trimming leaves an allele empty, the base
before it is taken from the reference and the trim goes on), and REF is checked against it.
Symbolic alleles, breakends and `*` are kept as written. The FASTA may spell its contigs either way
(`1` or `chr1`): names are matched through the store's spelling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vcf_pipeline.lib.vcf.contigs import canonical_contig


@dataclass(frozen=True)
class Normalised:
    pos: int  # 1-based
    ref: str
    alt: str
    ref_matches: bool | None = None  # REF against the reference FASTA; None without one


_SEQUENCE = re.compile("[ACGTNacgtn]+")


def is_sequence_allele(allele: str) -> bool:
    """Bases only: not `<DEL>`, a breakend, `*` or `.`."""
    return _SEQUENCE.fullmatch(allele) is not None


def trim(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """The shared suffix, then the shared prefix, trimmed; one base of each allele always stays."""
    if len(ref) == 1 or len(alt) == 1:
        return pos, ref, alt  # SNVs and the usual indels: nothing to trim (runs once per allele)
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


class Normaliser:
    """Normalises alleles, left-aligning against `fasta` when one is given (a `.fai` is built when
    missing)."""

    def __init__(self, fasta: Path | str | None = None):
        self.fasta = None
        self._names: dict[str, str] = {}  # the store's spelling -> the FASTA's
        self._found: dict[str, str | None] = {}
        if fasta is not None:
            import pysam

            if not Path(f"{fasta}.fai").exists():
                pysam.faidx(str(fasta))
            self.fasta = pysam.FastaFile(str(fasta))
            self._names = {canonical_contig(name): name for name in self.fasta.references}

    def holds(self, chrom: str) -> bool:
        return self._fasta_name(chrom) is not None

    def _fasta_name(self, chrom: str) -> str | None:
        """The FASTA's name for a contig of the file (looked up once per name)."""
        if chrom not in self._found:
            self._found[chrom] = self._names.get(canonical_contig(chrom))
        return self._found[chrom]

    def length(self, chrom: str) -> int:
        return self.fasta.get_reference_length(self._fasta_name(chrom))

    def normalise(self, chrom: str, pos: int, ref: str, alt: str) -> Normalised:
        if not (is_sequence_allele(ref) and is_sequence_allele(alt)):
            return Normalised(pos, ref, alt)
        ref, alt = ref.upper(), alt.upper()
        name = self._fasta_name(chrom) if self.fasta is not None else None
        if name is None:
            return Normalised(*trim(pos, ref, alt))
        chrom = name
        matches = self.fasta.fetch(chrom, pos - 1, pos - 1 + len(ref)).upper() == ref
        pos, ref, alt = self._left_align(chrom, pos, ref, alt)
        return Normalised(*trim(pos, ref, alt), ref_matches=matches)

    def _left_align(self, chrom: str, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
        # Tan, Abecasis & Kang 2015: drop equal last bases; an emptied allele takes the base before.
        while True:
            if ref and alt and ref[-1] == alt[-1]:
                if (len(ref) == 1 or len(alt) == 1) and pos == 1:
                    return pos, ref, alt  # nothing before position 1 to extend with
                ref, alt = ref[:-1], alt[:-1]
            elif not ref or not alt:
                pos -= 1
                base = self.fasta.fetch(chrom, pos - 1, pos).upper()
                ref, alt = base + ref, base + alt
            else:
                return pos, ref, alt
