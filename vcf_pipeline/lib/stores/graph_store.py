"""The Kuzu graph: samples, files, variants, genes and conditions, loaded with COPY FROM Parquet.

Kuzu allows one read-write process per database and blocks all others while it is open, so the
writer opens the database only for one partition's load, closes it at once, and a large file's load
opens it once per part (readers get in between).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import kuzu
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.stores.graph_copy import ParquetCopy, staged_copies
from vcf_pipeline.lib.stores.graph_keys import StoredKeys, annotation_keys
from vcf_pipeline.lib.stores.graph_parts import LoadParts
from vcf_pipeline.lib.stores.id_sets import IdIndex
from vcf_pipeline.lib.stores.identity_format import refuse_old_graph
from vcf_pipeline.lib.vcf.calls import CARRIER_ZYGOSITIES
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA

SCHEMA = [
    "CREATE NODE TABLE IF NOT EXISTS Sample(name STRING PRIMARY KEY)",
    "CREATE NODE TABLE IF NOT EXISTS VcfFile(partition_key STRING PRIMARY KEY, path STRING, sha256 STRING, ingested_at TIMESTAMP, build STRING, build_evidence STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Variant(variant_id STRING PRIMARY KEY, assembly STRING, chrom STRING, pos INT64, ref STRING, alt STRING, variant_type STRING, clinical_significance STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Gene(symbol STRING PRIMARY KEY)",
    "CREATE NODE TABLE IF NOT EXISTS Condition(name STRING PRIMARY KEY)",
    "CREATE REL TABLE IF NOT EXISTS CARRIES(FROM Sample TO Variant, gt STRING, zygosity STRING, dp INT32, gq INT32, partition_key STRING)",
    "CREATE REL TABLE IF NOT EXISTS CONTAINS(FROM VcfFile TO Variant)",
    "CREATE REL TABLE IF NOT EXISTS CALLED_IN(FROM Sample TO VcfFile)",
    "CREATE REL TABLE IF NOT EXISTS IN_GENE(FROM Variant TO Gene, consequence STRING, impact STRING)",
    "CREATE REL TABLE IF NOT EXISTS ASSOCIATED_WITH(FROM Variant TO Condition, significance STRING)",
    # Graphs made before the annotation key existed get it added (null: their variants count as changed once).
    "ALTER TABLE Variant ADD IF NOT EXISTS annotation_key STRING",
    # A sample's pedigree (`vcf-pipeline samples load`; graphs from before get the properties, null).
    *(f"ALTER TABLE Sample ADD IF NOT EXISTS {p} STRING" for p in ("family", "father", "mother", "sex", "phenotype")),
    "CREATE REL TABLE IF NOT EXISTS PARENT_OF(FROM Sample TO Sample)",
]
VARIANT_NODE_COLUMNS = ["variant_id", "assembly", "chrom", "pos", "ref", "alt", "variant_type", "clinical_significance", "annotation_key"]
_READ_ONLY_WAIT_S = 30.0
# Nodes that only exist through edges: once nothing points at them they go, as if never ingested.
_ORPHAN_SWEEPS = [
    "MATCH (g:Gene) WHERE NOT EXISTS { MATCH (:Variant)-[:IN_GENE]->(g) } DELETE g",
    "MATCH (c:Condition) WHERE NOT EXISTS { MATCH (:Variant)-[:ASSOCIATED_WITH]->(c) } DELETE c",
    # A sample from a pedigree stays (it is matched when its files arrive).
    "MATCH (s:Sample) WHERE s.family IS NULL AND NOT EXISTS { MATCH (s)-[:CALLED_IN]->(:VcfFile) } DETACH DELETE s",
]


# Kuzu's page cache per open database. Its default, 80% of the machine's memory, let a 1M-variant
# load keep 1.2 GB resident after the database closed; 512 MB loads 1M variants in one transaction.
DEFAULT_BUFFER_MB = 512
# A load commits and opens the database again after this many new variants and calls (`graph_parts.LoadParts`).
DEFAULT_PART_ROWS = 100_000


class GraphBusyError(RuntimeError):
    """The graph stayed locked by a writer for longer than the caller was willing to wait."""


@dataclass
class GraphLoadStats:
    variants_new: int = 0
    variants_updated: int = 0
    variants_removed: int = 0
    genes_new: int = 0
    conditions_new: int = 0
    samples_new: int = 0
    carries: int = 0


class GraphStore:
    """The Kuzu database file at `path` (e.g. `<home>/kuzu/graph.kuzu`). `before_write` runs before
    the database is opened for writing (lib/stores/graph_owner.py: one graph per deployment);
    `snapshot` names the snapshot a read-only copy came from."""

    def __init__(self, path: Path | str, buffer_mb: int = DEFAULT_BUFFER_MB, before_write=lambda: None, snapshot: str = "", part_rows: int = DEFAULT_PART_ROWS):
        self.path = Path(path)
        self.buffer_mb = buffer_mb
        self.part_rows = part_rows
        self.before_write = before_write
        self.snapshot = snapshot
        self._identity_checked = False  # refuse_old_graph passed (reads); writes check every time

    @contextmanager
    def _connect(self, read_only: bool, wait_s: float = _READ_ONLY_WAIT_S) -> Iterator[kuzu.Connection]:
        if read_only and not self.path.exists():
            raise FileNotFoundError(f"no graph at {self.path}: nothing has been ingested yet")
        if not read_only:
            self.before_write()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                db = kuzu.Database(str(self.path), read_only=read_only, buffer_pool_size=self.buffer_mb << 20)
                break
            except RuntimeError as exc:
                # Another process holds the database (a pipeline run writing): wait, bounded.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise GraphBusyError(f"{self.path} is locked by another process ({exc})") from exc
                time.sleep(0.5)
        conn = kuzu.Connection(db)
        try:
            yield conn
        finally:
            conn.close()
            db.close()

    def query(self, cypher: str, parameters: dict | None = None, wait_s: float = _READ_ONLY_WAIT_S) -> pa.Table:
        """Run a read-only query with bound parameters; waits (bounded) while a writer holds the graph."""
        return self.queries([(cypher, parameters or {})], wait_s)[0]

    def queries(self, statements: list[tuple[str, dict]], wait_s: float = _READ_ONLY_WAIT_S) -> list[pa.Table]:
        """Several read-only queries on one opening of the database (each opening costs tens of ms)."""
        with self._connect(read_only=True, wait_s=wait_s) as conn:
            if not self._identity_checked:  # once per store object, on a connection opened anyway
                refuse_old_graph(conn, f"the Kuzu graph {self.path}")
                self._identity_checked = True
            return [conn.execute(cypher, parameters).get_as_arrow() for cypher, parameters in statements]

    def count(self, pattern: str, parameters: dict | None = None) -> int:
        """`MATCH <pattern> RETURN count(*)`, e.g. count('(v:Variant)')."""
        return int(self.query(f"MATCH {pattern} RETURN count(*) AS n", parameters).column("n")[0].as_py())

    def counts(self) -> dict[str, int]:
        """Rows of every node and relationship table (backups record them, restores compare them)."""
        with self._connect(read_only=True) as conn:
            tables = conn.execute("CALL show_tables() RETURN name, type").get_as_arrow().to_pylist()
            counts = {}
            for t in sorted(tables, key=lambda t: t["name"]):
                pattern = f"(:{t['name']})" if t["type"] == "NODE" else f"()-[:{t['name']}]->()"
                counts[t["name"]] = int(conn.execute(f"MATCH {pattern} RETURN count(*)").get_as_arrow().column(0)[0].as_py())
        return counts

    def checkpoint(self) -> None:
        """Fold a write-ahead log left by a writer that died into the database file, so the file alone
        is a consistent copy. A clean close already did that (and removed the log); the file is then
        left untouched, byte for byte, which keeps unchanged backups free."""
        if self.path.with_name(self.path.name + ".wal").exists():
            with self._connect(read_only=False) as conn:
                conn.execute("CHECKPOINT")

    def load_partition(
        self,
        partition_key: str,
        source_path: str,
        sha256: str,
        variants: Iterable[pa.RecordBatch],
        calls: Callable[[], Iterable[pa.RecordBatch]],
        spare: set[str] = frozenset(),
        refreshed: Iterable[pa.RecordBatch] = (),
        build: tuple[str, str] = ("", ""),
        variant_rows: int = 0,
    ) -> GraphLoadStats:
        """Replace the partition's file node and edges and upsert its variants, genes, conditions and
        samples. `calls` is read twice; variants in `spare` (curated additions) stay even when no file
        holds them; `refreshed` rows (variants other files hold whose annotation changed) update
        those nodes; `build` is the file's genome build and its evidence; `variant_rows`, the number
        of `variants` rows when known, lets a file that brings much of the graph read the stored
        annotation keys in one scan (`graph_keys.StoredKeys`).

        A file that brings up to `part_rows` new variants and calls loads in one transaction: a
        failure leaves the graph as it was. A larger one commits a part at a time (`graph_parts.LoadParts`).
        Until its last part commits, the graph holds the file's variants as before plus some of its
        new ones, each with its CONTAINS edge, so no variant is left that no file contains: the
        write journal marks the write unfinished, and the next load of the file, or its retraction,
        settles it."""
        stats = GraphLoadStats()
        with LoadParts(self._transaction, self.part_rows) as part:
            held = IdIndex(self._variant_ids_of(part.committed, partition_key))
            self._set_file_node(part.conn, partition_key, source_path, sha256, build)
            self._drop_call_edges(part.conn, partition_key)
            stored = StoredKeys(part.committed, variant_rows)
            kept = np.zeros(len(held.values), bool)  # the variants held before that the file still has
            for batch in variants:
                if not batch.num_rows:
                    continue
                created = stats.variants_new
                self._load_variants(part.conn, part.staging, pa.Table.from_batches([batch]), stats, stored.reading(part.committed), create=True)
                ids = batch.column("variant_id")
                at = held.positions(ids)
                kept[at[at >= 0]] = True
                part.gather("CONTAINS", {"from": pa.array([partition_key] * int((at < 0).sum()), pa.string()), "to": ids.filter(pa.array(at < 0))})
                # Parts count new variants: known ones only add their file's edges, and every part's
                # commit rewrites the file's CONTAINS edges so far (a 1M re-ingest in parts of 100k:
                # 11.1 s against 5.3-6.5 in one).
                part.wrote(stats.variants_new - created)
            del stored  # a scan's keys: not needed past the file's own variants
            samples = set()
            for batch in calls():
                samples.update(batch.column("sample").to_pylist())
            stats.samples_new = part.staging.copy_new_nodes("Sample", "name", sorted(samples))
            part.staging.copy_rows("CALLED_IN", {"from": sorted(samples), "to": [partition_key] * len(samples)})
            for batch in calls():
                t = carriers_only(pa.Table.from_batches([batch]))
                stats.carries += part.staging.copy_rows(
                    "CARRIES",
                    {
                        "from": t["sample"], "to": t["variant_id"], "gt": t["gt"], "zygosity": t["zygosity"],
                        "dp": t["dp"], "gq": t["gq"], "partition_key": pa.array([partition_key] * t.num_rows, pa.string()),
                    },
                )
                part.wrote(t.num_rows)
            gone = held.values.filter(pa.array(~kept))
            self._drop_contains(part.conn, partition_key, gone)
            stats.variants_removed = self._remove_orphans(part.conn, sorted(set(gone.to_pylist()) - set(spare)))
            for batch in refreshed:  # variants other files hold: this load has not touched them
                if batch.num_rows:
                    self._load_variants(part.conn, part.staging, pa.Table.from_batches([batch]), stats, StoredKeys(part.committed))
        return stats

    def retract_partition(self, partition_key: str, spare: set[str] = frozenset(), refresh: Callable[[list[str]], pa.Table] | None = None) -> int:
        """Remove the partition's file node and edges, and every node only it held, in one transaction:
        the graph is left as if the file had never been loaded. Returns the variants removed."""
        if not self.path.exists():
            return 0
        with self._transaction() as (conn, staging):
            old_ids = self._variant_ids_of(conn, partition_key).to_pylist()
            self._drop_file_edges(conn, partition_key)
            conn.execute("MATCH (f:VcfFile {partition_key: $pk}) DELETE f", {"pk": partition_key})
            removed = self._remove_orphans(conn, sorted(set(old_ids) - set(spare)))
            if refresh is not None:  # variants other files still hold: their annotation as stored now
                left = conn.execute("UNWIND $ids AS id MATCH (v:Variant {variant_id: id}) RETURN v.variant_id", {"ids": old_ids})
                rows = refresh(left.get_as_arrow().column(0).to_pylist())
                if rows.num_rows:
                    self._load_variants(conn, staging, rows, GraphLoadStats(), StoredKeys(conn))
        return removed

    def upsert_variants(self, rows: list[dict]) -> None:
        """Curation edits: set each variant's node and replace its gene and condition edges (one
        transaction; row by row, as edits are few; bulk loads use COPY)."""
        with self.transaction() as conn:
            self.upsert_variants_in(conn, rows)

    @classmethod
    def upsert_variants_in(cls, conn, rows: list[dict]) -> None:
        """`upsert_variants` inside a transaction the caller holds (see `transaction`)."""
        for r in rows:
            key = {"id": r["variant_id"]}
            conn.execute(
                "MERGE (v:Variant {variant_id: $id}) SET v.chrom = $chrom, v.pos = $pos, v.ref = $ref, v.alt = $alt, "
                "v.variant_type = $variant_type, v.clinical_significance = $sig, v.annotation_key = NULL",  # a file's reload rewrites it
                {**key, **{c: r[c] for c in ("chrom", "pos", "ref", "alt", "variant_type")}, "sig": r.get("clinical_significance")},
            )
            for rel in ("IN_GENE", "ASSOCIATED_WITH"):
                conn.execute(f"MATCH (:Variant {{variant_id: $id}})-[e:{rel}]->() DELETE e", key)
        # Sweep before the new edges exist: Kuzu 0.11's NOT EXISTS misses many edges created earlier in
        # the same transaction (500 new conditions: "has connected edges ... cannot be deleted").
        cls._remove_orphans(conn, [])
        for r in rows:
            key = {"id": r["variant_id"]}
            if r.get("gene_symbol"):
                conn.execute("MERGE (:Gene {symbol: $g})", {"g": r["gene_symbol"]})
                conn.execute(
                    "MATCH (v:Variant {variant_id: $id}), (g:Gene {symbol: $g}) CREATE (v)-[:IN_GENE {consequence: $c, impact: $i}]->(g)",
                    {**key, "g": r["gene_symbol"], "c": r.get("consequence"), "i": r.get("impact")},
                )
            for condition in dict.fromkeys(r.get("conditions") or []):
                conn.execute("MERGE (:Condition {name: $n})", {"n": condition})
                conn.execute(
                    "MATCH (v:Variant {variant_id: $id}), (c:Condition {name: $n}) CREATE (v)-[:ASSOCIATED_WITH {significance: $s}]->(c)",
                    {**key, "n": condition, "s": r.get("clinical_significance")},
                )

    def delete_variants(self, variant_ids: list[str]) -> int:
        """Remove variants (and their edges), then genes, conditions and samples left without edges."""
        if not variant_ids or not self.path.exists():
            return 0
        with self.transaction() as conn:
            return self.delete_variants_in(conn, variant_ids)

    @classmethod
    def delete_variants_in(cls, conn, variant_ids: list[str]) -> int:
        """`delete_variants` inside a transaction the caller holds (see `transaction`)."""
        result = conn.execute("UNWIND $ids AS id MATCH (v:Variant {variant_id: id}) DETACH DELETE v RETURN count(*)", {"ids": variant_ids})
        removed = int(result.get_as_arrow().column(0)[0].as_py())
        cls._remove_orphans(conn, [])
        return removed

    @contextmanager
    def transaction(self) -> Iterator[kuzu.Connection]:
        """A write transaction for edits that must land together with another store's: the caller
        writes the other store inside the block, so a failure there rolls this one back."""
        with self._transaction() as (conn, _):
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[tuple[kuzu.Connection, ParquetCopy]]:
        """One write transaction: committed when the block ends, rolled back (all of it) if it raises.
        The error that ended it is the one raised: Kuzu may already have rolled back after a failed
        statement, and its "No active transaction for ROLLBACK" would hide the cause."""
        with self._write() as (conn, staging):
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn, staging
                conn.execute("COMMIT")
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except RuntimeError:
                    pass  # already rolled back by Kuzu
                raise

    @contextmanager
    def _write(self) -> Iterator[tuple[kuzu.Connection, ParquetCopy]]:
        """A read-write connection with the schema in place, and a staging folder for COPY files.
        We hold Kuzu's one read-write lock, so staging folders left now are a killed writer's."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect(read_only=False) as conn, staged_copies(self.path.parent, conn) as staging:
            refuse_old_graph(conn, f"the Kuzu graph {self.path}")
            for statement in SCHEMA:
                conn.execute(statement)
            yield conn, staging

    @staticmethod
    def _variant_ids_of(conn, partition_key: str) -> pa.Array:
        result = conn.execute("MATCH (:VcfFile {partition_key: $pk})-[:CONTAINS]->(v:Variant) RETURN v.variant_id", {"pk": partition_key})
        return result.get_as_arrow().column(0).combine_chunks().cast(pa.string())

    @classmethod
    def _drop_file_edges(cls, conn, partition_key: str) -> None:
        conn.execute("MATCH (:VcfFile {partition_key: $pk})-[r:CONTAINS]->() DELETE r", {"pk": partition_key})
        cls._drop_call_edges(conn, partition_key)

    @staticmethod
    def _drop_call_edges(conn, partition_key: str) -> None:
        key = {"pk": partition_key}
        conn.execute("MATCH (:Sample)-[r:CALLED_IN]->(:VcfFile {partition_key: $pk}) DELETE r", key)
        conn.execute("MATCH (:Sample)-[r:CARRIES]->(:Variant) WHERE r.partition_key = $pk DELETE r", key)

    @staticmethod
    def _drop_contains(conn, partition_key: str, variant_ids: pa.Array, chunk: int = 50_000) -> None:
        """Delete the file's CONTAINS edges to `variant_ids`, the variants a new version of it lacks
        (only those: deleting a 1M-variant file's edges took Kuzu over 10 minutes)."""
        for start in range(0, len(variant_ids), chunk):
            conn.execute(
                "UNWIND $ids AS id MATCH (:VcfFile {partition_key: $pk})-[r:CONTAINS]->(:Variant {variant_id: id}) DELETE r",
                {"pk": partition_key, "ids": variant_ids[start : start + chunk].to_pylist()},
            )

    @staticmethod
    def _remove_orphans(conn, candidate_ids: list[str], chunk: int = 50_000) -> int:
        """Delete the candidates no file contains any more, then genes, conditions and samples left
        without edges."""
        removed = 0
        for start in range(0, len(candidate_ids), chunk):
            result = conn.execute(
                "UNWIND $ids AS id MATCH (v:Variant {variant_id: id}) "
                "WHERE NOT EXISTS { MATCH (:VcfFile)-[:CONTAINS]->(v) } DETACH DELETE v RETURN count(*)",
                {"ids": candidate_ids[start : start + chunk]},
            )
            removed += int(result.get_as_arrow().column(0)[0].as_py())
        for statement in _ORPHAN_SWEEPS:
            conn.execute(statement)
        return removed

    @staticmethod
    def _set_file_node(conn, partition_key: str, source_path: str, sha256: str, build: tuple[str, str]) -> None:
        key = {"pk": partition_key}
        conn.execute(
            "MERGE (f:VcfFile {partition_key: $pk}) SET f.path = $path, f.sha256 = $sha, f.ingested_at = $at, "
            "f.build = $build, f.build_evidence = $evidence",
            {**key, "path": source_path, "sha": sha256, "at": datetime.now(timezone.utc).replace(tzinfo=None), "build": build[0], "evidence": build[1]},
        )

    @staticmethod
    def _load_variants(conn, staging: ParquetCopy, t: pa.Table, stats: GraphLoadStats, stored_keys: StoredKeys, create: bool = False) -> None:
        """Update changed variants with their edges, and with `create` (a file's variants) create
        the new ones; without it only the annotation of existing variants is brought up to date.
        `stored_keys` reads the graph as it stands before `t` (`graph_parts.committed_view` where
        none of `t` was written by this transaction)."""
        t = t.select([c for c in VARIANT_SCHEMA.names if c in t.column_names])
        t = t.append_column("annotation_key", annotation_keys(t))
        held, stored = stored_keys.of(t["variant_id"].combine_chunks())
        same = pc.fill_null(pc.equal(t["annotation_key"], stored), False)
        is_new = pa.array(~held if create else np.zeros(len(held), bool))
        is_changed = pc.and_(pa.array(held), pc.invert(same))
        stats.variants_new += staging.copy_table("Variant", t.select(VARIANT_NODE_COLUMNS).filter(is_new))
        changed = t.filter(is_changed)
        if changed.num_rows:
            conn.execute(
                "UNWIND $rows AS r MATCH (v:Variant {variant_id: r.variant_id}) "
                "SET v.variant_type = r.variant_type, v.clinical_significance = r.clinical_significance, v.annotation_key = r.annotation_key",
                {"rows": changed.select(VARIANT_NODE_COLUMNS).to_pylist()},
            )
            # Annotation edges belong to the variant; the newest file's annotation replaces them.
            for rel in ("IN_GENE", "ASSOCIATED_WITH"):
                conn.execute(f"UNWIND $ids AS id MATCH (v:Variant {{variant_id: id}})-[r:{rel}]->() DELETE r", {"ids": changed["variant_id"].to_pylist()})
            stats.variants_updated += changed.num_rows
        # Unchanged variants keep their gene and condition edges; only new and changed ones get them.
        t = t.filter(pc.or_(is_new, is_changed))
        ids = t["variant_id"].to_pylist()

        with_gene = t.filter(pc.is_valid(t["gene_symbol"]))
        stats.genes_new += staging.copy_new_nodes("Gene", "symbol", sorted(set(with_gene["gene_symbol"].to_pylist())))
        staging.copy_rows(
            "IN_GENE",
            {"from": with_gene["variant_id"], "to": with_gene["gene_symbol"], "consequence": with_gene["consequence"], "impact": with_gene["impact"]},
        )
        pairs = [
            (vid, condition, sig)
            for vid, conditions, sig in zip(ids, t["conditions"].to_pylist(), t["clinical_significance"].to_pylist())
            for condition in dict.fromkeys(conditions or [])
        ]
        stats.conditions_new += staging.copy_new_nodes("Condition", "name", sorted({p[1] for p in pairs}))
        staging.copy_rows(
            "ASSOCIATED_WITH",
            {"from": [p[0] for p in pairs], "to": [p[1] for p in pairs], "significance": pa.array([p[2] for p in pairs], pa.string())},
        )


def carriers_only(calls: pa.Table) -> pa.Table:
    """The calls of samples carrying their variant: the graph's CARRIES edges (the hom-ref and
    no-call rows a family's file keeps stay in LanceDB)."""
    return calls.filter(pc.is_in(calls["zygosity"], value_set=pa.array(CARRIER_ZYGOSITIES)))
