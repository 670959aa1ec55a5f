"""The LanceDB store on its own: replacing a partition's calls."""

import pyarrow as pa
import pytest

from vcf_pipeline.lib.lancedb_store import CALLS, VariantStore
from vcf_pipeline.lib.vcf import CALL_SCHEMA


def calls(samples, variant_id="1-10-A-G"):
    n = len(samples)
    return pa.RecordBatch.from_pydict(
        {"sample": samples, "variant_id": [variant_id] * n, "gt": ["0/1"] * n, "zygosity": ["heterozygous"] * n,
         "dp": [10] * n, "gq": [50] * n, "ad": [[5, 5]] * n},
        schema=CALL_SCHEMA,
    )


def test_replacing_calls_touches_only_that_partition(tmp_path):
    store = VariantStore(tmp_path)
    store.replace_calls("src/a.vcf", lambda: iter([calls(["S1", "S2", "S3"])]))
    store.replace_calls("src/b.vcf", lambda: iter([calls(["S9"])]))
    assert store.replace_calls("src/a.vcf", lambda: iter([calls(["S4"], "1-20-C-T")])) == 1
    rows = store.read(CALLS, columns=["partition_key", "sample"]).to_pylist()
    assert sorted((r["partition_key"], r["sample"]) for r in rows) == [("src/a.vcf", "S4"), ("src/b.vcf", "S9")]
    store.replace_calls("src/a.vcf", lambda: iter([]))
    assert store.count(CALLS) == 1


def test_a_retried_commit_reads_the_calls_afresh(tmp_path):
    store = VariantStore(tmp_path)
    attempts = []

    def batches():
        attempts.append(1)
        yield calls(["S1", "S2"])
        if len(attempts) == 1:
            raise RuntimeError("Commit conflict for version 3: another writer committed first")
        yield calls(["S3"])

    assert store.replace_calls("src/a.vcf", batches) == 3
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
        store.replace_calls("src/a.vcf", broken)
    assert len(attempts) == 1
