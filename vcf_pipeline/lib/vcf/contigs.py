"""One contig spelling in the store: UCSC style (`chr1` ... `chr22`, `chrX`, `chrY`, `chrM`), whatever
a file wrote (`1`, `X`, `MT`, `chrMT`, RefSeq `NC_000001.11`). Other contigs (unplaced scaffolds,
alternate haplotypes, decoys) keep their own names.
"""

from __future__ import annotations

import re

_PRIMARY = {str(n): f"chr{n}" for n in range(1, 23)} | {"X": "chrX", "Y": "chrY", "M": "chrM", "MT": "chrM"}
# RefSeq accessions of the assembled chromosomes (any version): NC_000001 ... NC_000024, and rCRS.
_REFSEQ = re.compile(r"NC_0000(\d\d)(\.\d+)?")
_REFSEQ_MITO = re.compile(r"NC_012920(\.\d+)?")


def canonical_contig(name: str) -> str:
    """The store's spelling of a contig name."""
    bare = name[3:] if name.lower().startswith("chr") else name
    if bare.upper() in _PRIMARY:
        return _PRIMARY[bare.upper()]
    if match := _REFSEQ.fullmatch(name):
        number = int(match.group(1))
        return _PRIMARY.get({23: "X", 24: "Y"}.get(number, str(number)), name)
    if _REFSEQ_MITO.fullmatch(name):
        return "chrM"
    return name
