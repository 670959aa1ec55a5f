"""Selected variants, with the calls of chosen samples, as a bgzipped, tabix-indexed VCF (pysam).

One file holds one genome build: its contigs (with lengths for GRCh37 and GRCh38) head the file,
our annotation columns and cohort counts become INFO fields, the calls FORMAT GT/DP/GQ/AD. A
record is one ALT, so a call is written as `bcftools norm -m-` splits it (`1/2` becomes `0/1`, and
loses its phase). A sample the store holds no call of (a large cohort keeps carriers only; a sample
with only another ALT of the site has none) is written `./.` (not known), never `0/0`: that would
claim a reference call nobody made."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

PRIMARY = [f"chr{n}" for n in range(1, 23)] + ["chrX", "chrY", "chrM"]
LENGTHS = {
    "GRCh38": [248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973, 145138636, 138394717, 133797422,
               135086622, 133275309, 114364328, 107043718, 101991189, 90338345, 83257441, 80373285, 58617616, 64444167,
               46709983, 50818468, 156040895, 57227415, 16569],
    "GRCh37": [249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663, 146364022, 141213431, 135534747,
               135006516, 133851895, 115169878, 107349540, 102531392, 90354753, 81195210, 78077248, 59128983, 63025520,
               48129895, 51304566, 155270560, 59373566, 16569],
}  # fmt: skip
# Our columns -> INFO (id, Number, Type, description).
INFO_FIELDS = {
    "variant_id": ("VID", "1", "String", "vcf_pipeline variant id (build:chrom-pos-ref-alt)"),
    "gene_symbol": ("GENE", "1", "String", "Gene symbol"),
    "gene_id": ("GENE_ID", "1", "String", "Gene id"),
    "consequence": ("CONSEQUENCE", ".", "String", "Consequence terms (Sequence Ontology), most severe transcript"),
    "impact": ("IMPACT", "1", "String", "Impact of the consequence (HIGH, MODERATE, LOW, MODIFIER)"),
    "hgvs_c": ("HGVSC", "1", "String", "HGVS coding change"),
    "hgvs_p": ("HGVSP", "1", "String", "HGVS protein change"),
    "clinical_significance": ("CLNSIG", "1", "String", "ClinVar clinical significance"),
    "clinvar_review_status": ("CLNREVSTAT", "1", "String", "ClinVar review status"),
    "conditions": ("CLNDN", ".", "String", "ClinVar conditions"),
    "allele_frequency": ("AF", "A", "Float", "Allele frequency (as the source file gave it)"),
    "cohort_ac": ("COHORT_AC", "A", "Integer", "Allele count over every file in the store holding the variant"),
    "cohort_an": ("COHORT_AN", "1", "Integer", "Called alleles over every file in the store holding the variant"),
    "cohort_af": ("COHORT_AF", "A", "Float", "COHORT_AC / COHORT_AN"),
}
VARIANT_COLUMNS = ["assembly", "chrom", "pos", "end", "ref", "alt", "rsid", "qual", "filter", "variant_type", *INFO_FIELDS]
_CALL_ORDER = {"homozygous_reference": 1, "no_call": 2}  # carriers: 0
# Characters VCF 4.3 reserves in INFO values, percent-encoded (section 1.2).
_RESERVED = str.maketrans({"%": "%25", ":": "%3A", ";": "%3B", "=": "%3D", ",": "%2C", "\t": "%09", "\n": "%0A", "\r": "%0D"})


class VcfExportRefused(ValueError):
    """A selection that cannot be one VCF file (several builds, an output name that is not .vcf.gz)."""


def _encoded(value: str) -> str:
    return value.translate(_RESERVED)


def _sorted(rows: pa.Table) -> pa.Table:
    order = {name: i for i, name in enumerate(PRIMARY)}
    ranks = pa.array([order.get(c, len(PRIMARY)) for c in rows["chrom"].to_pylist()], pa.int32())
    return rows.append_column("_contig", ranks).sort_by([("_contig", "ascending"), ("chrom", "ascending"), ("pos", "ascending"), ("ref", "ascending"), ("alt", "ascending")])


def _header(build: str, contigs: list[str], filters: set[str], samples: list[str]):
    import pysam

    header = pysam.VariantHeader()
    header.add_line(f"##reference={build}")
    header.add_line("##source=vcf_pipeline export")
    lengths = dict(zip(PRIMARY, LENGTHS.get(build, [])))
    for name in [c for c in PRIMARY if c in lengths] + [c for c in contigs if c not in lengths]:
        header.contigs.add(name, length=lengths.get(name), assembly=build if build != "unknown" else None)
    for name in sorted(filters - {"PASS"}):
        header.filters.add(name, None, None, f"Filter {name} of the source file")
    for info_id, number, kind, description in INFO_FIELDS.values():
        header.info.add(info_id, number, kind, description)
    header.info.add("END", "1", "Integer", "End position of the variant")
    for fmt_id, number, kind, description in (
        ("GT", "1", "String", "Genotype of this ALT (./. where the store holds no call of the sample)"),
        ("DP", "1", "Integer", "Read depth"),
        ("GQ", "1", "Integer", "Genotype quality"),
        ("AD", "R", "Integer", "Allelic depths"),
    ):
        header.formats.add(fmt_id, number, kind, description)
    for sample in samples:
        header.add_sample(sample)
    return header


def _genotype(gt: str | None, zygosity: str | None = None) -> tuple[tuple, bool]:
    """pysam alleles and phasing of a stored GT string (`0/1`, `1|0`, `./1`) for a one-ALT record:
    the call's allele becomes 1, any other ALT 0, as `bcftools norm -m-` writes them."""
    if not gt:
        return (None, None), False
    phased = "|" in gt
    alleles = tuple(None if a == "." else int(a) for a in gt.replace("|", "/").split("/"))
    if all(a in (None, 0, 1) for a in alleles):
        return alleles, phased
    called = {a for a in alleles if a}
    if zygosity in ("homozygous", "hemizygous") or len(called) == 1:
        return tuple(None if a is None else int(a != 0) for a in alleles), phased
    # Two different ALTs (`1/2`): which one this record is, the stored GT does not say; unphased.
    first = next(a for a in alleles if a)
    return tuple(sorted((None if a is None else int(a == first) for a in alleles), key=lambda a: (a is None, a))), False


def export_vcf(variants_table, calls_table, where_sql: str, out: Path, samples: list[str] | None = None) -> int:
    """Write the variants `where_sql` selects, with the calls of `samples` (default: every sample
    with a call among them), to `out` (.vcf.gz) and its tabix index. Returns the records written."""
    import pysam

    from vcf_pipeline.lib.stores.variant_tables import present

    out = Path(out)
    if not out.name.endswith(".vcf.gz"):
        raise VcfExportRefused(f"{out}: a VCF export is bgzipped and indexed; name it .vcf.gz")
    columns = present(list(dict.fromkeys(["variant_id", *VARIANT_COLUMNS])), variants_table.schema)
    rows = variants_table.search().where(where_sql).select(columns).limit(None).to_arrow()
    builds = sorted(set(rows["assembly"].to_pylist())) if rows.num_rows else []
    if len(builds) > 1:
        raise VcfExportRefused(f"the selection holds variants of {', '.join(builds)}; a VCF holds one build: add assembly = '{builds[0]}' (or another) to the filter")
    rows = _sorted(rows)
    ids = rows["variant_id"].to_pylist()
    calls = _calls_of(calls_table, ids) if calls_table is not None else {}
    chosen = samples if samples is not None else sorted({sample for by_sample in calls.values() for sample in by_sample})
    filters = {f for value in rows["filter"].to_pylist() if value for f in value.split(";")}
    header = _header(builds[0] if builds else "unknown", sorted(set(rows["chrom"].to_pylist())), filters, chosen)
    with pysam.VariantFile(str(out), "wz", header=header) as vcf:
        for row in rows.to_pylist():
            record = vcf.new_record(contig=row["chrom"], start=row["pos"] - 1, alleles=(row["ref"], row["alt"]))
            if row["end"] is not None and row["end"] != row["pos"] + len(row["ref"]) - 1:
                record.stop = row["end"]
            record.id = row["rsid"] or None
            record.qual = row["qual"]
            for value in (row["filter"] or "").split(";"):
                if value and value != ".":
                    record.filter.add(value)
            for column, (info_id, number, kind, _) in INFO_FIELDS.items():
                value = row.get(column)
                if value is None or value == []:
                    continue
                if kind in ("Float", "Integer"):
                    record.info[info_id] = value
                elif number == "." and isinstance(value, list):
                    record.info[info_id] = tuple(_encoded(v) for v in value)
                elif number == ".":
                    record.info[info_id] = tuple(_encoded(v) for v in value.split("&"))
                else:
                    record.info[info_id] = _encoded(value)
            for sample in chosen:
                call = calls.get(row["variant_id"], {}).get(sample)
                alleles, phased = _genotype(call["gt"], call["zygosity"]) if call else _genotype(None)
                target = record.samples[sample]
                target["GT"] = alleles
                target.phased = phased
                if call:
                    for key in ("dp", "gq"):
                        if call[key] is not None:
                            target[key.upper()] = call[key]
                    if call["ad"] and len(call["ad"]) == 2:
                        target["AD"] = tuple(call["ad"])
            vcf.write(record)
    pysam.tabix_index(str(out), preset="vcf", force=True)
    return rows.num_rows


def _calls_of(calls_table, variant_ids: list[str]) -> dict[str, dict[str, dict]]:
    """variant id -> sample -> its call: when several files call the sample, a carrier's call
    before a hom-ref one before a no-call, then the first file's."""
    from vcf_pipeline.lib.stores.variant_tables import in_list

    found: dict[str, dict[str, dict]] = {}
    for start in range(0, len(variant_ids), 2_000):
        chunk = variant_ids[start : start + 2_000]
        rows = calls_table.search().where(in_list("variant_id", chunk)).select(["variant_id", "sample", "gt", "zygosity", "dp", "gq", "ad", "partition_key"]).limit(None).to_arrow()
        for row in sorted(rows.to_pylist(), key=lambda r: (_CALL_ORDER.get(r["zygosity"], 0), r["partition_key"])):
            found.setdefault(row["variant_id"], {}).setdefault(row["sample"], row)
    return found
