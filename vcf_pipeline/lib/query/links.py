"""Links out for a variant, by its genome build: ClinVar, dbSNP, Ensembl, gnomAD. A link is only
given where the build makes it right (gnomAD and Ensembl coordinates are per build)."""

from __future__ import annotations

from urllib.parse import quote

_ENSEMBL = {"GRCh38": "https://www.ensembl.org", "GRCh37": "https://grch37.ensembl.org"}
_GNOMAD = {"GRCh38": "gnomad_r4", "GRCh37": "gnomad_r2_1"}
_CLINVAR_POS = {"GRCh38": "chrpos38", "GRCh37": "chrpos37"}


def external_links(row: dict) -> list[tuple[str, str]]:
    """(label, URL) pairs for a `variants` row."""
    build, chrom, pos = row.get("assembly"), (row.get("chrom") or "").removeprefix("chr"), row.get("pos")
    links = []
    rsid = row.get("rsid")
    if rsid and rsid.startswith("rs"):
        links.append(("dbSNP", f"https://www.ncbi.nlm.nih.gov/snp/{quote(rsid)}"))
        links.append(("ClinVar", f"https://www.ncbi.nlm.nih.gov/clinvar/?term={quote(rsid)}"))
    elif build in _CLINVAR_POS:
        links.append(("ClinVar", f"https://www.ncbi.nlm.nih.gov/clinvar/?term={quote(f'{chrom}[chr] AND {pos}[{_CLINVAR_POS[build]}]')}"))
    if build in _ENSEMBL:
        end = row.get("end") or pos
        links.append(("Ensembl", f"{_ENSEMBL[build]}/Homo_sapiens/Location/View?r={quote(f'{chrom}:{pos}-{end}')}"))
    ref, alt = row.get("ref") or "", row.get("alt") or ""
    if build in _GNOMAD and ref.isalpha() and alt.isalpha():
        links.append(("gnomAD", f"https://gnomad.broadinstitute.org/variant/{quote(f'{chrom}-{pos}-{ref}-{alt}')}?dataset={_GNOMAD[build]}"))
    return links
