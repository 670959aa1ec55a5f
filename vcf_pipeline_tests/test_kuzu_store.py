"""The Kuzu store on its own: a changed or retracted partition leaves no trace of what it held."""

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
    import gzip

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
