"""Embedding on a GPU: the `torch` backend's encode call (sentence-transformers `encode`, normalised,
as `lib/embedding/embedder.py` makes it) on CUDA, in float32 and float16, over batch sizes, against
the same model on the same machine's CPU in the same run, and `encode`'s host and GPU halves
timed apart at batch 512. The pipeline never needs a GPU; this
says what `embedding.backend: torch` with `embedding.device: cuda` gives where one is.

Runs outside the project's environment (a GPU machine's own Python with torch and
sentence-transformers; no Dagster, LanceDB or pysam needed):

    python3 bench/gpu_embed_bench.py --model MODEL_DIR --texts TEXTS.parquet \
        --reference REF.npy --out gpu_embed.json

`--texts` holds a `description` column (texts the pipeline made); `--reference`, optional, holds
the vectors of an evenly spaced 2,000 of them from this project's CPU `torch` backend, to check
that the GPU's vectors are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _timed(encode, texts: list[str]) -> tuple[float, np.ndarray]:
    import torch

    torch.cuda.synchronize()
    started = time.perf_counter()
    vectors = encode(texts)
    torch.cuda.synchronize()
    return time.perf_counter() - started, vectors


def _where_the_time_goes(model, texts: list[str], batch_size: int) -> dict:
    """`encode`'s two halves timed apart, on the texts sorted by length as `encode` sorts them:
    tokenising on the host, then the model's forward pass and pooling on the GPU."""
    import torch

    ordered = sorted(texts, key=len, reverse=True)
    batches = [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    started = time.perf_counter()
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # renamed in sentence-transformers 6
    features = [tokenize(batch) for batch in batches]
    tokenize_s = time.perf_counter() - started
    torch.cuda.synchronize()
    started = time.perf_counter()
    with torch.inference_mode():
        for feature in features:
            on_gpu = {k: v.to("cuda", non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in feature.items()}
            model(on_gpu)["sentence_embedding"].cpu()
    torch.cuda.synchronize()
    model_s = time.perf_counter() - started
    encode_s, _ = _timed(lambda chunk: model.encode(chunk, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False), texts)
    return {"batch_size": batch_size, "tokenize_s": tokenize_s, "model_s": model_s, "encode_s": encode_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", required=True)
    parser.add_argument("--reference")
    parser.add_argument("--cpu-texts", type=int, default=5_000)
    parser.add_argument("--limit", type=int, default=100_000, help="texts timed on the GPU, evenly spaced")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 128, 512, 2048])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import pyarrow.parquet as pq
    import torch
    from sentence_transformers import SentenceTransformer

    texts = pq.read_table(args.texts, columns=["description"])["description"].to_pylist()
    texts = texts[:: max(1, len(texts) // args.limit)][: args.limit]
    result = {"texts": len(texts), "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "cpu_threads": torch.get_num_threads()}

    def encoder(model, batch_size):
        return lambda chunk: model.encode(chunk, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    cpu = SentenceTransformer(args.model, device="cpu").float()  # the weights' file may be float16
    cpu.encode(texts[:64])
    chosen = texts[:: max(1, len(texts) // args.cpu_texts)][: args.cpu_texts]
    started = time.perf_counter()
    cpu.encode(chosen, batch_size=16, normalize_embeddings=True, show_progress_bar=False)
    cpu_rate = len(chosen) / (time.perf_counter() - started)
    result["cpu"] = {"texts": len(chosen), "batch_size": 16, "texts_per_s": cpu_rate}
    print(f"CPU ({result['cpu_threads']} threads), batch 16: {cpu_rate:,.0f} texts/s on {len(chosen):,} texts", flush=True)

    gpu = SentenceTransformer(args.model, device="cuda").float()
    sample = texts[:: max(1, len(texts) // 2000)][:2000]
    result["gpu"] = []
    for precision in ("float32", "float16"):
        if precision == "float16":
            gpu.half()
        for batch_size in args.batch_sizes:
            encode = encoder(gpu, batch_size)
            encode(texts[:4096])  # warm-up: kernels for these shapes
            seconds, _ = _timed(encode, texts)
            torch.cuda.reset_peak_memory_stats()
            _, vectors = _timed(encode, sample)
            row = {"precision": precision, "batch_size": batch_size, "seconds": seconds, "texts_per_s": len(texts) / seconds,
                   "vs_cpu": len(texts) / seconds / cpu_rate, "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20}
            if args.reference:
                reference = np.load(args.reference)
                cosine = np.sum(vectors.astype(np.float32) * reference, axis=1)
                row.update(cosine_to_cpu_mean=float(cosine.mean()), cosine_to_cpu_min=float(cosine.min()))
            result["gpu"].append(row)
            print(f"GPU {precision}, batch {batch_size}: {row['texts_per_s']:,.0f} texts/s ({row['vs_cpu']:.1f}x the CPU)"
                  + (f", cosine to the CPU's vectors {row['cosine_to_cpu_mean']:.5f} mean, {row['cosine_to_cpu_min']:.5f} min" if args.reference else ""),
                  flush=True)
    result["split"] = _where_the_time_goes(gpu.float(), texts, 512)
    print("batch 512, float32: tokenising {tokenize_s:.1f} s, the model on the GPU {model_s:.1f} s, of {encode_s:.1f} s".format(**result["split"]), flush=True)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
