"""Embedding rate per backend through our path (describe, hash, cache lookup, encode, Parquet)
against a bare sentence-transformers `model.encode` of the same texts, and each backend's cosine to
the exact (fp32) vectors; for the static model, how often its 10 nearest neighbours are the
model's."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vcf_pipeline.lib.embedding.embedder import BACKENDS, Embedder, embed_variant_file
from vcf_pipeline.lib.embedding.text import describe_variant
from vcf_pipeline.lib.stores.warehouse_root import WarehouseRoot
from vcf_pipeline.lib.vcf.reader import VcfReader


def neighbour_agreement(reference: np.ndarray, other: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (by `reference`) that `other` also ranks top k."""
    a, b = reference @ reference.T, other @ other.T
    np.fill_diagonal(a, -np.inf)
    np.fill_diagonal(b, -np.inf)
    top_a, top_b = np.argsort(-a, axis=1)[:, :k], np.argsort(-b, axis=1)[:, :k]
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(top_a, top_b)]))


def run(vcf: Path, work: Path, texts: int) -> dict:
    subset = work / f"embed_subset_{texts}.parquet"
    with VcfReader(vcf, batch_records=texts) as reader:
        pq.write_table(pa.Table.from_batches([next(reader.batches()).variants]), subset)
    unique = list(dict.fromkeys(describe_variant(r) for r in pq.read_table(subset).to_pylist()))
    exact = Embedder(backend="torch")
    exact.encode(["warm-up"])
    started = time.perf_counter()
    reference = exact._loaded().st.encode(unique, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    bare_rate = len(unique) / (time.perf_counter() - started)
    out: dict = {"texts": len(unique), "bare_encode_torch_fp32_texts_per_s": bare_rate, "backends": {}}
    for backend in BACKENDS:
        embedder = Embedder(backend=backend)
        embedder.encode(["warm-up"])  # export/distill and load outside the timings
        started = time.perf_counter()
        local = WarehouseRoot.local(work)
        stats = embed_variant_file(local.file(str(subset)), local.file(str(work / f"embed_{backend}.parquet")), embedder, pa.array([], pa.string()))
        seconds = time.perf_counter() - started
        vectors = embedder.encode(unique)
        cosine = np.sum(vectors * reference, axis=1) if vectors.shape == reference.shape else None
        out["backends"][backend] = {
            "model_id": embedder.model_id,
            "texts_encoded": stats.embedded,
            "texts_per_s": stats.embedded / seconds,
            "vs_bare_encode": stats.embedded / seconds / bare_rate,
            "cosine_to_fp32_mean": float(cosine.mean()) if cosine is not None else None,
            "cosine_to_fp32_p1": float(np.percentile(cosine, 1)) if cosine is not None else None,
            "neighbours_at_10_agree": neighbour_agreement(reference, vectors),
        }
    return out
