"""The embedding backends against each other, on texts of real variants from ../shared."""

from __future__ import annotations

import numpy as np
import pytest

from vcf_pipeline.lib.embedding.embedder import (
    DEFAULT_BATCH_SIZE,
    GPU_BATCH_SIZE,
    Embedder,
    model_folder,
)
from vcf_pipeline.lib.embedding.onnx_backend import cached_build, exported_model
from vcf_pipeline.lib.embedding.text import describe_variant
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.vcf.reader import VcfReader
from vcf_pipeline_tests.conftest import SHARED_VCF
from vcf_pipeline_tests.files import write_settings

ANNOTATED = ["ensembl-vep__clinvar-testset__input.vcf.gz", "snpeff__vcf__long.vcf.gz", "bcftools__test__split-vep.vcf"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    found = []
    for name in ANNOTATED:
        with VcfReader(SHARED_VCF / name) as reader:
            found += [describe_variant(row) for batch in reader.batches() for row in batch.variants.to_pylist()]
    unique = list(dict.fromkeys(found))
    # A batch of one, and one text past the model's 256-token limit (truncated the same way).
    return unique[:400] + ["x", "BRCA1 " * 400]


@pytest.fixture(scope="module")
def exact(texts) -> np.ndarray:
    return Embedder(backend="torch").encode(texts)


def test_onnx_fp32_gives_the_exact_vectors_of_sentence_transformers(texts, exact):
    vectors = Embedder(backend="onnx").encode(texts)
    assert vectors.shape == exact.shape == (len(texts), 384)
    assert np.min(np.sum(vectors * exact, axis=1)) > 0.9999
    single = Embedder(backend="onnx").encode([texts[7]])[0]  # no padding: same vector alone as in a batch
    assert float(single @ exact[7]) > 0.9999


def test_int8_default_stays_close_to_the_exact_vectors(texts, exact):
    embedder = Embedder()
    assert embedder.backend == "onnx-int8" and embedder.model_id == "all-MiniLM-L6-v2+int8"
    cosine = np.sum(embedder.encode(texts) * exact, axis=1)
    assert cosine.mean() >= 0.98 and np.percentile(cosine, 5) >= 0.97


def test_static_model_is_fast_to_run_unit_length_and_keeps_gross_meaning(texts):
    embedder = Embedder(backend="static")
    vectors = embedder.encode(texts)
    assert embedder.model_id == "all-MiniLM-L6-v2+static"
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, embedder.encode(texts))
    query, near, far = embedder.encode(["BRCA1 frameshift_variant pathogenic", "BRCA1 p.Glu23fs: frameshift_variant (HIGH)", "SNV A>G"])
    assert query @ near > query @ far


def test_exports_are_cached_and_built_once(monkeypatch, tmp_path):
    folder = exported_model(model_folder("all-MiniLM-L6-v2"))
    assert {"model.onnx", "model.int8.onnx", "tokenizer.json", "meta.json"} <= {p.name for p in folder.iterdir()}

    def must_not_build(location, staging):
        raise AssertionError("export rebuilt although cached")

    assert cached_build(model_folder("all-MiniLM-L6-v2"), "onnx", must_not_build) == folder


def test_a_failed_build_leaves_no_half_written_export(tmp_path):
    def failing(location, staging):
        (staging / "model.onnx").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        cached_build(model_folder("all-MiniLM-L6-v2"), "onnx", failing, cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_backend_and_device_are_checked():
    with pytest.raises(ValueError, match="unknown embedding backend"):
        Embedder(backend="tensorflow").encode(["x"])
    with pytest.raises(ValueError, match="use backend 'torch'"):
        Embedder(backend="onnx-int8", device="cuda").encode(["x"])


def test_batch_size_follows_the_device_unless_set(tmp_path, monkeypatch):
    """16 texts a call suit 2 CPU cores; a GPU gets a third of its throughput from them."""
    for name in ("VCF_PIPELINE_DEVICE", "VCF_PIPELINE_BATCH_SIZE", "VCF_PIPELINE_EMBED_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    assert Embedder().batch_size == DEFAULT_BATCH_SIZE
    assert Embedder(backend="torch", device="cuda").batch_size == GPU_BATCH_SIZE > DEFAULT_BATCH_SIZE
    assert Embedder(backend="torch", device="cuda", batch_size=64).batch_size == 64
    assert Settings.load(tmp_path).embedder().batch_size == DEFAULT_BATCH_SIZE
    write_settings(tmp_path, {"embedding": {"backend": "torch", "device": "cuda:1"}})
    assert Settings.load(tmp_path).embedder().batch_size == GPU_BATCH_SIZE
    write_settings(tmp_path, {"embedding": {"backend": "torch", "device": "cuda", "batch_size": 128}})
    assert Settings.load(tmp_path).embedder().batch_size == 128


def test_texts_described_column_by_column_are_those_described_row_by_row():
    """The embedding step describes a batch column by column (`describe_batch`); every row's text is
    the one `describe_variant` gives that row as a mapping, on every shared VCF."""
    from vcf_pipeline.lib.embedding.text import describe_batch

    compared = 0
    for path in sorted(SHARED_VCF.glob("*.vcf*")):
        if path.suffix in (".tbi", ".csi"):
            continue
        try:
            with VcfReader(path) as reader:
                batches = [batch.variants for batch in reader.batches()]
        except Exception:  # the malformed cases are other tests' business
            continue
        for variants in batches:
            assert describe_batch(variants) == [describe_variant(row) for row in variants.to_pylist()]
            compared += variants.num_rows
    assert compared > 1_000


def test_texts_described_column_by_column_hold_on_edge_cases():
    """`describe_batch` against `describe_variant` on rows drawn at random from values that take
    `_describe`'s other branches: missing and empty strings, HGVS without or ending in a colon,
    alleles around the length limits, structural types, review statuses it shortens, 0-3 conditions."""
    import random

    import pyarrow as pa

    from vcf_pipeline.lib.embedding.text import DESCRIBED_COLUMNS, describe_batch

    rng = random.Random(7)
    choices = {
        "gene_symbol": [None, "", "BRCA1"],
        "hgvs_p": [None, "", "ENSP1.1:p.Lys4Glu", "p.Arg2Gln", "ENSP1.1:", "a:b:p.X"],
        "hgvs_c": [None, "", "ENST1.2:c.76A>T", "c.1del"],
        "consequence": [None, "", "missense_variant", "splice_region_variant&intron_variant"],
        "impact": [None, "", "HIGH"],
        "variant_type": [None, "", "SNV", "indel", "SV", "BND"],
        "ref": [None, "", "A", "ACGTACGTACGT", "ACGTACGTACGTA", "é" * 13],
        "alt": [None, "", "G", "<DEL>", "T" * 12, "T" * 13, "G]17:198982]" * 4, "ü" * 41],
        "clinical_significance": [None, "", "Pathogenic", "Benign/Likely_benign"],
        "clinvar_review_status": [None, "", "criteria provided, single submitter", "criteria provided, multiple submitters, no conflicts",
                                  "reviewed by expert panel", "no assertion criteria provided", "criteria provided, "],
        "conditions": [None, [], ["Disease X"], ["A", "B", "C"], [""]],
    }
    rows = [{c: rng.choice(choices[c]) for c in DESCRIBED_COLUMNS} for _ in range(3_000)]
    schema = pa.schema([(c, pa.list_(pa.string()) if c == "conditions" else pa.string()) for c in DESCRIBED_COLUMNS])
    table = pa.Table.from_pylist(rows, schema)
    assert describe_batch(table) == [describe_variant(row) for row in rows]
    assert describe_batch(table.drop_columns(["conditions", "gene_symbol"])) == [
        describe_variant({**row, "conditions": None, "gene_symbol": None}) for row in rows
    ]
