"""The benchmark's input files, generated once under bench/work/ with vcf_pipeline.lib.vcf.synthetic.

- `annotated_<n>.vcf.gz`: sites-only, VEP CSQ + ClinVar INFO, like a ClinVar or gnomAD release;
- `cohort_<records>x<samples>.vcf.gz`: the same annotations with genotypes for 100+ samples;
- `header_only.vcf`: no records, for the fixed cost of one ingest;
- a watched folder of n small VCF files, for the sensor tick.
"""

from __future__ import annotations

from pathlib import Path

from vcf_pipeline.lib.vcf.synthetic import variant_universe, write_vcf


def annotated(work: Path, records: int) -> Path:
    path = work / f"annotated_{records}.vcf.gz"
    if not path.exists():
        print(f"  generating {path.name} ...", flush=True)
        write_vcf(path, variant_universe(records, seed=42), [], seed=42)
    return path


def annotated_spread(work: Path, records: int, genes: int = 20_000) -> Path:
    """Like `annotated`, over `genes` made-up genes along ten chromosomes: the density of a real
    file of that size, for the search rows (gene and region filters select tens of rows, not 83k)."""
    from vcf_pipeline.lib.vcf.synthetic import spread_genes

    path = work / f"annotated_spread_{records}.vcf.gz"
    if not path.exists():
        print(f"  generating {path.name} ...", flush=True)
        write_vcf(path, variant_universe(records, seed=44, genes=spread_genes(genes)), [], seed=44)
    return path


def cohort(work: Path, records: int, samples: int) -> Path:
    path = work / f"cohort_{records}x{samples}.vcf.gz"
    if not path.exists():
        print(f"  generating {path.name} ...", flush=True)
        write_vcf(path, variant_universe(records, seed=43), [f"S{i:03d}" for i in range(samples)], seed=43)
    return path


def header_only(work: Path) -> Path:
    path = work / "header_only.vcf"
    if not path.exists():
        write_vcf(path, [], ["S0"], seed=1)
    return path


def watch_folder(folder: Path, files: int) -> Path:
    """`files` distinct one-record VCFs in `folder` (distinct content: each is a partition)."""
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    for i in range(files):
        (folder / f"site_{i:05d}.vcf").write_text(f"{header}chr1\t{1000 + i}\t.\tA\tG\t50\tPASS\t.\n")
    done.write_text("")
    return folder
