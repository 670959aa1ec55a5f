"""The LanceDB store on its own: replacing and retracting a partition's rows."""

import pyarrow as pa
import pytest

from vcf_pipeline.lib.lancedb_store import CALLS, FILE_VARIANTS, VARIANTS, VariantStore
from vcf_pipeline.lib.vcf import CALL_SCHEMA, VARIANT_SCHEMA

DIM = 4


def calls(samples, variant_id="1-10-A-G"):
    n = len(samples)
    return pa.RecordBatch.from_pydict(
        {"sample": samples, "variant_id": [variant_id] * n, "gt": ["0/1"] * n, "zygosity": ["heterozygous"] * n,
         "dp": [10] * n, "gq": [50] * n, "ad": [[5, 5]] * n},
        schema=CALL_SCHEMA,
    )


def variants(ids):
    """Variant rows with embedding columns, as the ingest step writes them."""
    n = len(ids)
    columns = {f.name: pa.nulls(n, f.type) for f in VARIANT_SCHEMA}
    columns["variant_id"] = pa.array(ids, pa.string())
    columns["description"] = pa.array([f"variant {i}" for i in ids])
    columns["text_hash"] = pa.array(ids)
    columns["embedding"] = pa.array([[1.0, 0.0, 0.0, 0.0]] * n, pa.list_(pa.float32(), DIM))
    columns["embedding_model"] = pa.array(["m"] * n)
    return pa.RecordBatch.from_pydict(columns)


def ingest(store, key, ids, samples=()):
    """What the pipeline's LanceDB step does for one partition."""
    store.upsert_variants([variants(ids)], DIM)
    return store.replace_partition(key, lambda: iter([pa.array(ids, pa.string())]), lambda: iter([calls(list(samples), ids[0])]))


def ids_in(store, table):
    return sorted(store.read(table, columns=["variant_id"]).column("variant_id").to_pylist())


def test_replacing_calls_touches_only_that_partition(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/a.vcf", ["1-10-A-G"], ["S1", "S2", "S3"])
    ingest(store, "src/b.vcf", ["1-10-A-G"], ["S9"])
    assert ingest(store, "src/a.vcf", ["1-20-C-T"], ["S4"]) == (1, 0)
    rows = store.read(CALLS, columns=["partition_key", "sample"]).to_pylist()
    assert sorted((r["partition_key"], r["sample"]) for r in rows) == [("src/a.vcf", "S4"), ("src/b.vcf", "S9")]
    store.replace_partition("src/a.vcf", lambda: iter([pa.array(["1-20-C-T"])]), lambda: iter([]))
    assert store.count(CALLS) == 1


def test_a_changed_partition_drops_only_the_variants_no_file_holds(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/a.vcf", ["v1", "v2", "v3"], ["S1"])
    ingest(store, "src/b.vcf", ["v3", "v4"], ["S2"])
    # a.vcf changes: v1 and v2 leave it; v2 is still nowhere else, v3 is still in b.vcf.
    assert ingest(store, "src/a.vcf", ["v3", "v5"], ["S1"]) == (1, 2)
    assert ids_in(store, VARIANTS) == ["v3", "v4", "v5"]
    assert store.count(FILE_VARIANTS) == 4


def test_retracting_a_partition_leaves_the_store_as_if_it_never_came(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/b.vcf", ["v3", "v4"], ["S2"])
    before = {t: store.read(t).sort_by("variant_id").to_pylist() for t in (VARIANTS, FILE_VARIANTS)}
    ingest(store, "src/a.vcf", ["v1", "v3"], ["S1"])
    assert store.retract_partition("src/a.vcf") == 1
    assert {t: store.read(t).sort_by("variant_id").to_pylist() for t in (VARIANTS, FILE_VARIANTS)} == before
    assert store.read(CALLS, columns=["sample"]).column("sample").to_pylist() == ["S2"]
    assert store.retract_partition("src/a.vcf") == 0  # idempotent: a re-run finds nothing to do


def test_a_retried_commit_reads_the_calls_afresh(tmp_path):
    store = VariantStore(tmp_path)
    attempts = []

    def batches():
        attempts.append(1)
        yield calls(["S1", "S2"])
        if len(attempts) == 1:
            raise RuntimeError("Commit conflict for version 3: another writer committed first")
        yield calls(["S3"])

    assert store.replace_partition("src/a.vcf", lambda: iter([]), batches) == (3, 0)
    assert len(attempts) == 2
    assert store.count(CALLS, "partition_key = 'src/a.vcf'") == 3


def test_errors_other_than_conflicts_are_not_retried(tmp_path):
    store = VariantStore(tmp_path)
    attempts = []

    def broken():
        attempts.append(1)
        raise OSError("disk full")
        yield

    with pytest.raises(Exception, match="disk full"):  # lance re-raises the stream's error as its own
        store.replace_partition("src/a.vcf", lambda: iter([]), broken)
    assert len(attempts) == 1
