"""The Kuzu store on its own: a changed or retracted partition leaves no trace of what it held."""

import gzip
import subprocess
import sys

import pyarrow as pa
import pytest

from vcf_pipeline.lib.stores.graph_keys import StoredKeys
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.warehouse import PartitionFiles, parse_into, stream_batches
from vcf_pipeline_tests.conftest import SHARED_VCF

CLINVAR = SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz"  # genes and conditions
CALLS = SHARED_VCF / "htslib__test__vcf44_1.vcf"  # samples and calls
SV = SHARED_VCF / "gatk__SVAnnotate__integration.vcf.gz"

QUERIES = {
    "variants": "MATCH (v:Variant) RETURN v.variant_id AS k",
    "genes": "MATCH (g:Gene) RETURN g.symbol AS k",
    "conditions": "MATCH (c:Condition) RETURN c.name AS k",
    "samples": "MATCH (s:Sample) RETURN s.name AS k",
    "files": "MATCH (f:VcfFile) RETURN f.partition_key AS k",
    "carries": "MATCH (s:Sample)-[r:CARRIES]->(v:Variant) RETURN s.name + '>' + v.variant_id AS k",
    "in_gene": "MATCH (v:Variant)-[r:IN_GENE]->(g:Gene) RETURN v.variant_id + '>' + g.symbol AS k",
    "associated": "MATCH (v:Variant)-[r:ASSOCIATED_WITH]->(c:Condition) RETURN v.variant_id + '>' + c.name AS k",
}


def snapshot(graph: GraphStore) -> dict[str, set]:
    return {name: set(graph.query(q).column("k").to_pylist()) for name, q in QUERIES.items()}


def load(graph: GraphStore, tmp_path, key: str, path, keys_read: str = "by_id"):
    files = PartitionFiles(tmp_path / "warehouse", key)
    parse_into(path, files)
    rows = files.variants.open().metadata.num_rows if keys_read == "by_scan" else 0
    return graph.load_partition(key, str(path), "sha", stream_batches(files.variants), lambda: stream_batches(files.calls), variant_rows=rows)


def test_retracting_a_partition_leaves_the_graph_as_if_it_never_came(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu")
    load(graph, tmp_path, "src/sv.vcf.gz", SV)
    before = snapshot(graph)
    load(graph, tmp_path, "src/clinvar.vcf.gz", CLINVAR)
    load(graph, tmp_path, "src/calls.vcf", CALLS)
    assert graph.retract_partition("src/clinvar.vcf.gz") == 50
    assert graph.retract_partition("src/calls.vcf") == 28
    assert snapshot(graph) == before
    assert graph.retract_partition("src/calls.vcf") == 0  # idempotent


@pytest.mark.parametrize("keys_read", ["by_id", "by_scan"])
def test_a_second_file_with_known_variants_only_adds_its_edges_and_changed_annotations_replace_old_ones(tmp_path, keys_read):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu")
    load(graph, tmp_path, "src/a.vcf.gz", CLINVAR, keys_read)
    before = snapshot(graph)
    stats = load(graph, tmp_path, "src/copy.vcf.gz", CLINVAR, keys_read)
    assert (stats.variants_new, stats.variants_updated) == (0, 0)  # nothing rewritten
    after = snapshot(graph)
    assert after["in_gene"] == before["in_gene"] and after["associated"] == before["associated"]
    assert after["files"] == before["files"] | {"src/copy.vcf.gz"}

    # The same variants annotated differently: the newest file's gene and conditions win.
    edited = tmp_path / "edited.vcf"
    text = gzip.open(CLINVAR, "rt").read()
    edited.write_text(text.replace("CLNDN=", "CLNDN=Edited_condition|"))
    stats = load(graph, tmp_path, "src/edited.vcf", edited, keys_read)
    assert stats.variants_updated > 0
    assert "Edited condition" in {k.split(">", 1)[1] for k in snapshot(graph)["associated"]}


class CountingQueries:
    """A Kuzu connection that records the queries it runs."""

    def __init__(self, conn):
        self.conn, self.queries = conn, []

    def execute(self, query, parameters=None):
        self.queries.append(query)
        return self.conn.execute(query, parameters or {})


def _as_dict(asked: list[str], found) -> dict:
    held, keys = found
    assert len(held) == len(keys) == len(asked)
    assert all(k is None for k, h in zip(keys.to_pylist(), held) if not h)
    return {i: k for i, k, h in zip(asked, keys.to_pylist(), held) if h}


def test_stored_keys_read_by_one_scan_are_the_keys_looked_up_by_id(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu")
    load(graph, tmp_path, "src/clinvar.vcf.gz", CLINVAR)
    load(graph, tmp_path, "src/calls.vcf", CALLS)
    ids = graph.query("MATCH (v:Variant) RETURN v.variant_id AS k").column("k").to_pylist()
    asked = ids[::3] + ["GRCh38:chrZ-1-A-C"]  # and one the graph lacks
    with graph._connect(read_only=True) as conn:
        by_id, by_scan, small = CountingQueries(conn), CountingQueries(conn), CountingQueries(conn)
        looked_up = _as_dict(asked, StoredKeys(by_id).of(pa.array(asked)))
        eighth = -(-len(ids) // 8)
        scanned = _as_dict(asked, StoredKeys(by_scan, variants=eighth).of(pa.array(asked)))  # an eighth of the graph: one scan
        small_file = _as_dict(asked, StoredKeys(small, variants=eighth - 1).of(pa.array(asked)))  # less: by id
    assert scanned == looked_up == small_file
    assert set(looked_up) == set(ids[::3]) and all(looked_up.values())
    assert len(by_scan.queries) == 2 and all("UNWIND" not in q for q in by_scan.queries)  # the count and the scan
    assert any("UNWIND" in q for q in by_id.queries) and any("UNWIND" in q for q in small.queries)


def test_a_changed_partition_drops_what_only_its_old_content_held(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu")
    load(graph, tmp_path, "src/a.vcf", CLINVAR)
    stats = load(graph, tmp_path, "src/a.vcf", CALLS)  # the file now holds other content
    assert stats.variants_removed == 50
    fresh = GraphStore(tmp_path / "fresh" / "graph.kuzu")
    load(fresh, tmp_path, "src/a.vcf", CALLS)
    assert snapshot(graph) == snapshot(fresh)
    assert not list((tmp_path / "kuzu").glob("staging-*"))


def test_checkpoint_folds_the_log_a_killed_writer_left_and_otherwise_touches_nothing(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu")
    load(graph, tmp_path, "src/calls.vcf", CALLS)
    wal = graph.path.with_name("graph.kuzu.wal")
    clean = graph.path.read_bytes()
    graph.checkpoint()
    assert graph.path.read_bytes() == clean and not wal.exists()  # closed cleanly: nothing to fold
    # A writer killed after a committed change leaves it in the log only.
    subprocess.run(
        [sys.executable, "-c", "import kuzu, os, signal, sys; c = kuzu.Connection(kuzu.Database(sys.argv[1])); "
         "c.execute(\"CREATE (:Gene {symbol: 'KILLED1'})\"); os.kill(os.getpid(), signal.SIGKILL)", str(graph.path)],
        check=False,
    )
    assert wal.exists()
    graph.checkpoint()
    assert not wal.exists() and graph.count("(g:Gene {symbol: 'KILLED1'})") == 1


CONTAINS = "MATCH (f:VcfFile)-[:CONTAINS]->(v:Variant) RETURN f.partition_key + '>' + v.variant_id AS k"
UNCONTAINED = "MATCH (v:Variant) WHERE NOT EXISTS { MATCH (:VcfFile)-[:CONTAINS]->(v) } RETURN v.variant_id AS k"


def load_in_batches(graph: GraphStore, tmp_path, key: str, path, batch_rows: int, fail_after: int | None = None):
    """`load`, its variants read `batch_rows` at a time; with `fail_after`, the read fails after that
    many batches (a load cut off part way)."""
    files = PartitionFiles(tmp_path / "warehouse" / key.replace("/", "_"), key)
    parse_into(path, files)

    def variants():
        for n, batch in enumerate(stream_batches(files.variants, batch_rows)):
            if n == fail_after:
                raise OSError("the file's variants could not be read")
            yield batch

    return graph.load_partition(key, str(path), "sha", variants(), lambda: stream_batches(files.calls, batch_rows))


def contains(graph: GraphStore) -> list[str]:
    """The CONTAINS edges as a sorted list: an edge copied twice shows twice."""
    return sorted(graph.query(CONTAINS).column("k").to_pylist())


def ids_of(path, tmp_path) -> set[str]:
    """The variant ids of a VCF, as the parse gives them."""
    files = PartitionFiles(tmp_path / "ids", str(path))
    parse_into(path, files)
    return set(files.variants.open().read(columns=["variant_id"]).column(0).to_pylist())


def test_a_file_loaded_in_parts_gives_the_graph_one_transaction_gives(tmp_path):
    whole = GraphStore(tmp_path / "whole" / "graph.kuzu")
    parts = GraphStore(tmp_path / "parts" / "graph.kuzu", part_rows=10)  # clinvar: 50 variants, 5 parts
    for graph in (whole, parts):
        load_in_batches(graph, tmp_path, "src/clinvar.vcf.gz", CLINVAR, batch_rows=7)
        load_in_batches(graph, tmp_path, "src/calls.vcf", CALLS, batch_rows=7)
    assert snapshot(parts) == snapshot(whole)
    assert contains(parts) == contains(whole) and len(contains(parts)) == len(set(contains(parts)))
    assert len(snapshot(parts)["carries"]) > 10  # the calls too came in more than one part


def test_a_file_loaded_again_in_parts_keeps_one_edge_per_variant_and_drops_what_it_lost(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu", part_rows=10)
    load_in_batches(graph, tmp_path, "src/a.vcf", CLINVAR, batch_rows=7)
    load_in_batches(graph, tmp_path, "src/a.vcf", CLINVAR, batch_rows=7)  # the same file again
    assert contains(graph) == sorted(f"src/a.vcf>{i}" for i in ids_of(CLINVAR, tmp_path))
    # A new version of the file with only its first half of records.
    lines = gzip.open(CLINVAR, "rt").read().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#")]
    half = tmp_path / "half.vcf"
    half.write_text("".join(header + [line for line in lines if not line.startswith("#")][:25]))
    stats = load_in_batches(graph, tmp_path, "src/a.vcf", half, batch_rows=7)
    assert stats.variants_removed == len(ids_of(CLINVAR, tmp_path) - ids_of(half, tmp_path)) > 0
    fresh = GraphStore(tmp_path / "fresh" / "graph.kuzu")
    load_in_batches(fresh, tmp_path, "src/a.vcf", half, batch_rows=7)
    assert snapshot(graph) == snapshot(fresh) and contains(graph) == contains(fresh)


def test_a_load_cut_off_between_parts_leaves_no_variant_without_a_file_and_the_next_settles_it(tmp_path):
    graph = GraphStore(tmp_path / "kuzu" / "graph.kuzu", part_rows=10)
    load_in_batches(graph, tmp_path, "src/calls.vcf", CALLS, batch_rows=7)
    before = snapshot(graph)
    load_in_batches(graph, tmp_path, "src/a.vcf", CALLS, batch_rows=7)  # the file's old content
    with pytest.raises(OSError, match="could not be read"):
        load_in_batches(graph, tmp_path, "src/a.vcf", CLINVAR, batch_rows=7, fail_after=4)
    held = {k.split(">", 1)[1] for k in contains(graph) if k.startswith("src/a.vcf>")}
    new = held & ids_of(CLINVAR, tmp_path)
    assert 0 < len(new) < len(ids_of(CLINVAR, tmp_path))  # parts before the failure committed, the rest did not
    assert held == ids_of(CALLS, tmp_path) | new  # the old content stays until the load completes
    assert graph.query(UNCONTAINED).num_rows == 0
    assert len(contains(graph)) == len(set(contains(graph)))

    load_in_batches(graph, tmp_path, "src/a.vcf", CLINVAR, batch_rows=7)  # the next load completes it
    fresh = GraphStore(tmp_path / "fresh" / "graph.kuzu")
    load_in_batches(fresh, tmp_path, "src/calls.vcf", CALLS, batch_rows=7)
    load_in_batches(fresh, tmp_path, "src/a.vcf", CLINVAR, batch_rows=7)
    assert snapshot(graph) == snapshot(fresh) and contains(graph) == contains(fresh)

    with pytest.raises(OSError):
        load_in_batches(graph, tmp_path, "src/b.vcf", SV, batch_rows=7, fail_after=3)
    graph.retract_partition("src/a.vcf")
    graph.retract_partition("src/b.vcf")  # a cut-off load is retracted like any other
    assert snapshot(graph) == before
