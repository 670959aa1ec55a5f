"""Materialisation metadata in Dagster's terms: row counts, column schemas, previews."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from vcf_pipeline.lib.units import human_bytes


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


def preview(table: pa.Table, columns: list[str], rows: int = 5, width: int = 60) -> dg.MarkdownMetadataValue:
    """A short Markdown table of the first rows."""
    head = table.select(columns).slice(0, rows).to_pylist()
    cell = lambda v: ("" if v is None else str(v)).replace("|", "\\|")[:width]  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in head]
    return dg.MetadataValue.md("\n".join(lines))


def file_summary_metadata(summary, explorer_port: int) -> dict:
    """A file's summary (lib/query/file_summary.py) as Dagster tables, and the link to its explorer page."""
    from urllib.parse import quote

    def table(rows: list[dict], columns: list[tuple[str, str]]) -> dg.TableMetadataValue:
        schema = dg.TableSchema(columns=[dg.TableColumn(name=n, type=t) for n, t in columns])
        return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in rows], schema=schema)

    impacts = ("HIGH", "MODERATE", "LOW", "MODIFIER", "none")
    return {
        "explorer": dg.MetadataValue.url(f"http://127.0.0.1:{explorer_port}/file/{quote(summary.partition_key, safe='')}"),
        "consequence_by_impact": table(summary.consequence_rows(), [("consequence", "string"), *((i, "int") for i in impacts), ("total", "int")]),
        "clinical_significance": table([{"significance": k, "variants": v} for k, v in summary.significance.items()],
                                       [("significance", "string"), ("variants", "int")]),  # fmt: skip
        "calls_per_sample": table([{"sample": s, "calls": sum(by.values()), **{z: by.get(z, 0) for z in ("heterozygous", "homozygous", "hemizygous")}}
                                   for s, by in list(summary.calls_per_sample.items())[:200]],
                                  [("sample", "string"), ("calls", "int"), ("heterozygous", "int"), ("homozygous", "int"), ("hemizygous", "int")]),  # fmt: skip
    }


def byte_count(name: str, n: int) -> dict:
    """A byte count as an integer (for plots) and, beside it, in human units."""
    return {name: n, f"{name.removesuffix('_bytes').removeprefix('bytes_')}_size": human_bytes(n)}


def identity_metadata(identity) -> dict:
    """The file's genome build with its evidence, and what normalisation did (an `IdentityStats`)."""
    found = {
        "build": identity.build,
        "build_evidence": "\n".join(identity.build_evidence) or "none",
        "normalised_alleles": identity.normalised_changed,
        "reference_fasta": identity.reference or identity.reference_note,
    }
    if identity.build_advice:
        found["build_advice"] = identity.build_advice
    if identity.ref_checked:
        found["ref_checked"] = identity.ref_checked
        found["ref_mismatches"] = identity.ref_mismatches
    return found
