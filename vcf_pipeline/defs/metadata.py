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
