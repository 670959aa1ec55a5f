"""A variant's identity: (genome build, contig, position, REF, ALT) after normalisation, and its id.

The build of a file is decided once, in this order: what the user set (`ingest --build`, the source's
`build:`), the header's evidence (lib/vcf/builds.py), else `unknown`, which never merges with a known
build. Header evidence that disagrees fails the file, naming both pieces, unless the user set the
build. Contigs are spelled the UCSC way (lib/vcf/contigs.py). Alleles are trimmed always and
left-aligned against a reference FASTA when one is configured for the build (lib/vcf/normalise.py).

hg19 and GRCh37 share the coordinates of the primary chromosomes, so both are `GRCh37`; their
mitochondria are not the same sequence (hg19's chrM is 16,571 bp, rCRS is 16,569 bp), so the
mitochondrial variants of a UCSC-style hg19 file are stored under assembly `hg19`, never `GRCh37`.

Ids read `GRCh38:chr1-925952-G-A`: the build, a colon, then the seed's `{chrom}-{pos}-{ref}-{alt}`
with alleles over 32 bp replaced by their length and a short digest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from vcf_pipeline.lib.vcf.builds import UNKNOWN, BuildCall, build_named, detect_build
from vcf_pipeline.lib.vcf.contigs import canonical_contig
from vcf_pipeline.lib.vcf.normalise import Normalised, Normaliser

BUILDS = ("GRCh38", "GRCh37", "NCBI36", "CHM13")
HG19_MITO = "hg19"  # the assembly of hg19's chrM variants (not rCRS)
ASSEMBLIES = (*BUILDS, HG19_MITO, UNKNOWN)
MAX_ALLELE_IN_ID = 32
_HG19_CHRM_LENGTH, _RCRS_LENGTH = 16_571, 16_569


class BuildError(ValueError):
    """The build or reference data of a file cannot be settled: the header's evidence disagrees, a
    build name is not one we know, or a configured FASTA is missing or does not fit."""


def build_of(name: str) -> str:
    """The build a user's name stands for (`hg38`, `b37`, `GRCh38` ...), or BuildError."""
    if name in BUILDS:
        return name
    found = build_named(name)
    if found is None:
        raise BuildError(f"unknown genome build {name!r}: use one of {', '.join(BUILDS)} (or hg38, hg19, b37, hg18, T2T)")
    return found


def allele_id_part(allele: str) -> str:
    """The allele as written in a variant id: itself, or its length and a digest when long."""
    if len(allele) <= MAX_ALLELE_IN_ID:
        return allele
    return f"{len(allele)}bp_{hashlib.blake2b(allele.encode(), digest_size=6).hexdigest()}"


def make_variant_id(assembly: str, chrom: str, pos: int, ref: str, alt: str) -> str:
    """`{assembly}:{chrom}-{pos}-{ref}-{alt}`, long alleles digested."""
    return f"{assembly}:{chrom}-{pos}-{allele_id_part(ref)}-{allele_id_part(alt)}"


@dataclass(frozen=True)
class ParsedId:
    assembly: str | None  # None: the id named no build
    site: str  # `chr1-925952-G-A`, contig in the store's spelling

    def candidates(self, assemblies=ASSEMBLIES) -> list[str]:
        """The full ids this may stand for."""
        return [f"{self.assembly}:{self.site}"] if self.assembly else [f"{a}:{self.site}" for a in assemblies]


def parse_variant_id(text: str) -> ParsedId | None:
    """A user's variant id, with or without its build, in either contig spelling
    (`GRCh38:chr1-925952-G-A`, `chr1-925952-G-A`, `1-925952-G-A`); None if it is not one."""
    # The build ends at the first colon: a breakend ALT (`G]chr2:321]`) holds colons of its own.
    assembly, sep, site = text.strip().partition(":")
    if not sep:
        assembly, site = None, assembly
    elif assembly.lower() == HG19_MITO:
        assembly = HG19_MITO
    elif assembly not in ASSEMBLIES:
        try:
            assembly = build_of(assembly)
        except BuildError:
            if "-" not in assembly:
                return None
            assembly, site = None, text.strip()  # no build, and a breakend ALT with a colon
    parts = site.rsplit("-", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[0] or not parts[2] or not parts[3]:
        return None
    chrom, pos, ref, alt = parts
    chrom = canonical_contig(chrom)
    if assembly == HG19_MITO and chrom != "chrM":
        assembly = "GRCh37"  # hg19 and GRCh37 differ only in their mitochondria
    return ParsedId(assembly, f"{chrom}-{int(pos)}-{ref}-{alt}")


@dataclass(frozen=True)
class IdentityOptions:
    """What the user configured for a file: a build that wins over the header, and references."""

    build: str | None = None
    build_origin: str = ""  # where `build` was set, for the evidence: "source lab1", "ingest --build"
    reference: Path | None = None  # this file's FASTA (ingest --reference, the source's `reference:`)
    references: dict[str, Path] = field(default_factory=dict)  # build -> FASTA, from the home
    any_reference: Path | None = None  # VCF_PIPELINE_REFERENCE_FASTA: for files whose contigs it holds
    gene_models: dict[str, Path] = field(default_factory=dict)  # build -> GFF3, for bcftools csq


@dataclass
class IdentityStats:
    build: str = UNKNOWN
    build_evidence: list[str] = field(default_factory=list)
    build_advice: str = ""  # how to set the build, when none was found
    reference: str = ""  # the FASTA alleles were left-aligned and checked against
    reference_note: str = ""  # why none was used
    ref_checked: int = 0
    ref_mismatches: int = 0
    normalised_changed: int = 0  # alleles whose position or sequence normalisation changed


class FileIdentity:
    """Turns one file's (contig, position, REF, ALT) into the store's identity and id."""

    def __init__(self, header, options: IdentityOptions = IdentityOptions(), source_hint: str = ""):
        self.stats = IdentityStats()
        call = detect_build(header)
        if options.build:
            build = build_of(options.build)
            self.stats.build_evidence = [f"{options.build_origin or 'configured'}: {options.build} -> {build}", *call.evidence]
        elif call.conflict:
            raise BuildError(
                f"the header names two genome builds ({'; '.join(call.evidence)}); set the build for this file "
                f"(`build:` on its source, or `vcf-pipeline ingest --build`)"
            )
        else:
            build = call.build
            self.stats.build_evidence = list(call.evidence)
        self.build = self.stats.build = build
        if build == UNKNOWN:
            self.stats.build_advice = (
                "no genome build in the header (##reference, contig assembly= or chr1's length): its variants are stored "
                f"under build 'unknown' and never merge with a known build; set one with `build:` on {source_hint or 'its source'} "
                "in vcf-pipeline.yaml, or `vcf-pipeline ingest --build GRCh38 <file>`"
            )
        self._mito = HG19_MITO if build == "GRCh37" and _hg19_mito(header, call) else build
        self._contigs: dict[str, str] = {}
        self.normaliser = self._normaliser(header, options)

    def _normaliser(self, header, options: IdentityOptions) -> Normaliser:
        fasta = options.reference or options.references.get(self.build)
        if fasta is None and options.any_reference is not None:
            fasta = options.any_reference
        if fasta is None:
            self.stats.reference_note = "no reference FASTA configured for this build: alleles trimmed, not left-aligned"
            return Normaliser()
        if not Path(fasta).is_file():
            raise BuildError(f"reference FASTA {fasta} does not exist")
        try:
            normaliser = Normaliser(fasta)
        except Exception as exc:  # noqa: BLE001 - pysam's SamtoolsError, OSError or ValueError: all say the same to the user
            raise BuildError(f"reference FASTA {fasta} cannot be read or indexed ({exc}); `samtools faidx` it where it lies") from None
        if header.contigs and not any(normaliser.holds(name) for name in header.contigs):
            self.stats.reference_note = f"{fasta} not used: it holds none of the file's contigs"
            return Normaliser()
        wrong = _length_disagreements(header, normaliser)
        if wrong and fasta == options.any_reference and fasta not in (options.reference, options.references.get(self.build)):
            self.stats.reference_note = f"{fasta} not used: its contig lengths differ from the header's ({wrong})"
            return Normaliser()
        if wrong:
            raise BuildError(f"reference {fasta} does not fit this file: contig lengths differ from the header's ({wrong})")
        self.stats.reference = str(fasta)
        return normaliser

    def contig(self, name: str) -> str:
        found = self._contigs.get(name)
        if found is None:
            found = self._contigs[name] = canonical_contig(name)
        return found

    def assembly_of(self, chrom: str) -> str:
        """The assembly of a stored contig: the file's build, or hg19 for hg19's chrM."""
        return self._mito if chrom == "chrM" else self.build

    def normalise(self, chrom: str, pos: int, ref: str, alt: str) -> Normalised:
        """Normalised alleles of one ALT (`chrom` as the file spells it), counting REF checks."""
        found = self.normaliser.normalise(chrom, pos, ref, alt)
        if found.ref_matches is not None:
            self.stats.ref_checked += 1
            self.stats.ref_mismatches += not found.ref_matches
        if found.pos != pos or found.ref != ref or found.alt != alt:
            self.stats.normalised_changed += 1
        return found

    def check_references(self) -> str | None:
        """The problem when most REFs disagree with the reference: a wrong build or a wrong FASTA."""
        checked, wrong = self.stats.ref_checked, self.stats.ref_mismatches
        if checked and wrong * 2 > checked:
            return f"REF does not match {self.stats.reference} at {100 * wrong / checked:.0f}% of sites ({wrong} of {checked}): wrong build or wrong reference?"
        return None


def _hg19_mito(header, call: BuildCall) -> bool:
    """Whether a GRCh37 file's mitochondrion is hg19's chrM rather than rCRS."""
    for name, contig in header.contigs.items():
        if canonical_contig(name) != "chrM":
            continue
        if contig.length in (_HG19_CHRM_LENGTH, _RCRS_LENGTH):
            return contig.length == _HG19_CHRM_LENGTH
        return name == "chrM" or any("hg19" in e.lower() for e in call.evidence)
    return any("hg19" in e.lower() for e in call.evidence)


def _length_disagreements(header, normaliser: Normaliser) -> str:
    """`chr1 249250621 != 248956422`-style notes for contigs whose FASTA length differs from the header's."""
    wrong = []
    for name, contig in header.contigs.items():
        if contig.length and normaliser.holds(name) and normaliser.length(name) != contig.length:
            wrong.append(f"{name}: header {contig.length}, FASTA {normaliser.length(name)}")
    return "; ".join(wrong[:3])
