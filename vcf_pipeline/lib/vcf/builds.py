"""Which genome build a VCF's coordinates are on, from its header, with the evidence.

Evidence, each naming a build: `##reference=` (names and paths such as GRCh38, hg19, b37,
human_g1k_v37, Homo_sapiens_assembly38, NCBI36), the `assembly=` of `##contig` lines, and the length
of chromosome 1 (it differs in every build). Pieces that name different builds are a conflict for the
caller to refuse; no evidence is build `unknown`. hg19 and GRCh37 share the coordinates of the primary
chromosomes and are both `GRCh37` here (their mitochondria differ: hg19's chrM is not rCRS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UNKNOWN = "unknown"
_EDGE = r"(?<![a-z0-9]){}(?![0-9])"  # human_g1k_v37, chm13v2.0, but not b370
_NAMES = {
    "GRCh38": ("grch38", "hg38", "b38", "hs38", "hs38dh", "assembly38", "gca_000001405.15"),
    "GRCh37": ("grch37", "hg19", "b37", "hs37d5", "g1k_v37", "assembly19", "ncbi37"),
    "NCBI36": ("ncbi36", "hg18", "b36"),
    "CHM13": ("chm13", "t2t", "hs1"),
}
_PATTERNS = [(build, re.compile("|".join(_EDGE.format(re.escape(n)) for n in names))) for build, names in _NAMES.items()]
CHR1_LENGTHS = {249_250_621: "GRCh37", 248_956_422: "GRCh38", 247_249_719: "NCBI36", 248_387_328: "CHM13"}


@dataclass(frozen=True)
class BuildCall:
    build: str
    evidence: list[str] = field(default_factory=list)  # "<what the header says> -> <build>"

    @property
    def conflict(self) -> bool:
        return len({e.rsplit(" -> ", 1)[1] for e in self.evidence}) > 1


def build_named(text: str) -> str | None:
    """The build a reference name or path stands for, if any."""
    lowered = text.lower()
    found = {build for build, pattern in _PATTERNS if pattern.search(lowered)}
    return found.pop() if len(found) == 1 else None


def detect_build(header) -> BuildCall:
    """The build of a `pysam.VariantHeader`, with every piece of evidence; `unknown` without any,
    the first build named when pieces conflict (check `.conflict`)."""
    evidence = []
    for record in header.records:
        if record.key == "reference" and record.value and (build := build_named(record.value)):
            evidence.append(f"##reference={record.value} -> {build}")
    assemblies = set()
    for name, contig in header.contigs.items():
        assembly = contig.header_record.get("assembly") if contig.header_record is not None else None
        if assembly and assembly not in assemblies and (build := build_named(assembly)):
            assemblies.add(assembly)
            evidence.append(f"##contig assembly={assembly} -> {build}")
        if name in ("1", "chr1") and contig.length in CHR1_LENGTHS:
            evidence.append(f"contig {name} length {contig.length} -> {CHR1_LENGTHS[contig.length]}")
    if not evidence:
        return BuildCall(UNKNOWN)
    return BuildCall(evidence[0].rsplit(" -> ", 1)[1], evidence)
