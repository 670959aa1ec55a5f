"""Stores written before variant ids named their genome build (`chr1-123-A-G`, no build, alleles as
written, contigs as the file spelled them) are refused, never mixed with today's ids
(`GRCh38:chr1-123-A-G`): their ids cannot be mapped without the files, since only a file's header
says its build. `vcf-pipeline rebuild` rebuilds the stores from the files (lib/stores/rebuild.py)."""

from __future__ import annotations

REBUILD_COMMAND = "vcf-pipeline rebuild"


class OldIdentityError(RuntimeError):
    """A store holds variant ids of the format before genome builds."""

    def __init__(self, store: str):
        self.store = store
        super().__init__(
            f"{store} was written by an earlier version, whose variant ids carry no genome build "
            f"(`chr1-123-A-G`, not `GRCh38:chr1-123-A-G`); this version never mixes the two. "
            f"Rebuild the stores from the watched files with `{REBUILD_COMMAND}` (the old stores are kept aside)."
        )


def refuse_old_graph(conn, where: str) -> None:
    """OldIdentityError if the Kuzu graph on `conn` has `Variant` nodes without `assembly`."""
    tables = set(conn.execute("CALL show_tables() RETURN name").get_as_arrow().column(0).to_pylist())
    if "Variant" in tables:
        properties = conn.execute("CALL table_info('Variant') RETURN name").get_as_arrow().column(0).to_pylist()
        if "assembly" not in properties:
            raise OldIdentityError(where)


def refuse_old_variants(table, where: str) -> None:
    """OldIdentityError if a LanceDB `variants` table has no `assembly` column."""
    if "assembly" not in table.schema.names:
        raise OldIdentityError(where)
