"""Parse rate: our parser (VCF text read column-wise, lib/vcf/text_columns.py) against `bcftools query`
printing the same fields, a bare pysam loop, and our record-by-record reader (the parse before it), on
the same file in the same run, each the best of three runs (every run's time is kept)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from vcf_pipeline.lib.vcf.reader import VcfReader

REPEATS = 3  # the machine's noise (a third within a day) is larger than the differences measured


def best_of(measure, repeats: int = REPEATS) -> dict:
    """The fastest of `repeats` runs of `measure()`, each run's seconds beside it (the first is cold:
    imports and first calls in this process)."""
    runs = [measure() for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "runs_seconds": [r["seconds"] for r in runs], "repeats": repeats}


def ours(path: Path, columnar: bool = True) -> dict:
    started = time.perf_counter()
    with VcfReader(path, columnar=columnar) as reader:
        rows = sum(b.variants.num_rows for b in reader.batches())
    seconds = time.perf_counter() - started
    return {"records": reader.stats.records, "variants": rows, "calls": reader.stats.calls, "seconds": seconds,
            "records_per_s": reader.stats.records / seconds, "record_by_record": reader.record_by_record}


def bare_pysam(path: Path) -> dict:
    import pysam

    started, n = time.perf_counter(), 0
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            _ = (rec.chrom, rec.pos, rec.ref, rec.alts, rec.info.get("CSQ"))
            n += 1
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "records_per_s": n / seconds}


def bcftools(path: Path, samples: bool) -> dict:
    """`bcftools query` printing the fields we read: the system's bcftools, else the one pysam ships
    (run in this process, its output collected in memory)."""
    fields = "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%INFO/CSQ\t%INFO/CLNSIG\t%INFO/CLNDN\t%INFO/AF"
    fmt = fields + ("[\t%GT:%AD:%DP:%GQ]" if samples else "") + "\n"
    started = time.perf_counter()
    if shutil.which("bcftools"):
        proc = subprocess.Popen(["bcftools", "query", "-f", fmt, str(path)], stdout=subprocess.PIPE)
        n = sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read(1 << 20), b""))
        proc.wait()
        which = "bcftools"
    else:
        import pysam.bcftools

        n = pysam.bcftools.query("-f", fmt, str(path)).count("\n")
        which = "pysam.bcftools"
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "records_per_s": n / seconds, "binary": which}


def run(path: Path, samples: bool = False) -> dict:
    """Each reader's best of REPEATS runs, one after another, on the same file (the record-by-record
    reader, 7-9x slower than ours, once)."""
    result = {"file": path.name, "ours": best_of(lambda: ours(path)), "record_reader": ours(path, columnar=False),
              "bare_pysam": best_of(lambda: bare_pysam(path)), "bcftools_query": best_of(lambda: bcftools(path, samples))}
    result["ours_vs_record_reader"] = result["ours"]["records_per_s"] / result["record_reader"]["records_per_s"]
    reference = result["bcftools_query"]
    result["ours_vs_bcftools"] = result["ours"]["records_per_s"] / reference["records_per_s"] if reference else None
    result["ours_vs_bare_pysam"] = result["ours"]["records_per_s"] / result["bare_pysam"]["records_per_s"]
    return result


def identity_costs(path: Path, work: Path) -> dict:
    """What the store's identity costs the parse, on one file read three ways in the same run: alleles
    as written (the parse before normalisation), trimmed (the default, no FASTA), and left-aligned and
    REF-checked against a FASTA. The synthetic files sit on real chromosome coordinates, so the FASTA
    run uses a copy packed onto one short contig (10 bp a record) with a FASTA holding each REF."""
    import gzip
    import random
    from contextlib import contextmanager

    from vcf_pipeline.lib.vcf import reader as reader_module
    from vcf_pipeline.lib.vcf.identity import FileIdentity, IdentityOptions
    from vcf_pipeline.lib.vcf.normalise import Normalised

    class AsWritten(FileIdentity):
        def normalise(self, chrom, pos, ref, alt):
            return Normalised(pos, ref, alt)

    @contextmanager
    def alleles_as_written():
        reader_module.FileIdentity = AsWritten
        try:
            yield
        finally:
            reader_module.FileIdentity = FileIdentity

    stem = path.name.split(".")[0]
    packed, fasta = work / f"packed-{stem}.vcf", work / f"packed-{stem}.fa"
    if not fasta.exists():
        rng = random.Random(5)
        sequence, lines = [], []
        for line in (gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)):
            if line.startswith("##contig"):
                continue
            if line.startswith("#"):
                lines.append(line)
                continue
            fields = line.split("\t")
            fields[0], fields[1] = "chr1", str(len(sequence) + 2)
            sequence += [rng.choice("ACGT"), *fields[3], *(rng.choice("ACGT") for _ in range(9 - len(fields[3])))]
            lines.append("\t".join(fields))
        header = [line for line in lines if line.startswith("#")]
        header.insert(len(header) - 1, f"##contig=<ID=chr1,length={len(sequence)}>\n")
        packed.write_text("".join(header + [line for line in lines if not line.startswith("#")]))
        fasta.write_text(">chr1\n" + "\n".join("".join(sequence[i : i + 60]) for i in range(0, len(sequence), 60)) + "\n")

    def rate(options: IdentityOptions = IdentityOptions(), repeats: int = 3) -> dict:
        """The best of `repeats` reads (the machine's noise is larger than the differences measured)."""
        best = 0.0
        for _ in range(repeats):
            started = time.perf_counter()
            with VcfReader(packed, identity=options) as reader:
                rows = sum(b.variants.num_rows for b in reader.batches())
            best = max(best, reader.stats.records / (time.perf_counter() - started))
        return {"records": reader.stats.records, "variants": rows, "records_per_s": best, "repeats": repeats,
                "ref_checked": reader.stats.identity.ref_checked, "ref_mismatches": reader.stats.identity.ref_mismatches,
                "normalised_changed": reader.stats.identity.normalised_changed}

    with alleles_as_written():
        as_written = rate()
    trimmed, with_fasta = rate(), rate(IdentityOptions(build="GRCh38", reference=fasta))
    return {"file": packed.name, "as_written": as_written, "trimmed": trimmed, "fasta": with_fasta,
            "trimmed_vs_as_written": trimmed["records_per_s"] / as_written["records_per_s"],
            "fasta_vs_as_written": with_fasta["records_per_s"] / as_written["records_per_s"]}
