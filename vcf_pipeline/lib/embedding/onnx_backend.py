"""Sentence-transformers text models run with ONNX Runtime, exported once from their local weights.

The export wraps the transformer with its pooling and normalisation, so the ONNX graph returns the
sentence vector itself; an int8 copy quantises the MatMul weights per output channel (the default
per-tensor quantisation loses too much). Running needs only `onnxruntime` and `tokenizers`: no torch,
no transformers, and not the `sentence-transformers[onnx]` extra, which downgrades both.
Exports are cached by the model's file fingerprint under `VCF_PIPELINE_MODEL_CACHE`
(default `~/.cache/vcf_pipeline/models`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

# Bump when the exported graph changes: cached exports are rebuilt.
EXPORT_VERSION = 1
FP32, INT8 = "model.onnx", "model.int8.onnx"


DEFAULT_CACHE = Path.home() / ".cache" / "vcf_pipeline" / "models"


def model_fingerprint(location: Path) -> str:
    """Names, sizes and mtimes of the model's files: a changed model gets a new export."""
    digest = hashlib.sha256(f"export-{EXPORT_VERSION}".encode())
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(location)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def cached_build(location: Path, kind: str, build, cache: Path | None = None) -> Path:
    """The cache folder for (`kind`, model): built once by `build(location, folder)` into a temporary
    folder that is renamed into place, so concurrent runs never see a half-written export."""
    folder = (cache or DEFAULT_CACHE) / f"{kind}-{location.name}-{model_fingerprint(location)}"
    if (folder / "meta.json").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        build(location, staging)
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / "meta.json").exists():  # another process won the race: use its copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _export(location: Path, folder: Path) -> None:
    """Export the model (pooling and normalisation included) to ONNX, and its int8 copy."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(location), device="cpu")
    transformer, pooling = st[0], st[1]
    mode = getattr(pooling, "pooling_mode", None) or ("cls" if getattr(pooling, "pooling_mode_cls_token", False) else "mean")
    if mode not in ("mean", "cls"):
        raise ValueError(f"{location}: pooling {mode!r} is not supported by the ONNX export (mean or cls)")
    model = transformer.auto_model.eval()
    takes_token_types = "token_type_ids" in inspect.signature(model.forward).parameters

    class SentenceVector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            extra = {"token_type_ids": torch.zeros_like(input_ids)} if takes_token_types else {}
            tokens = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            if mode == "cls":
                pooled = tokens[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    example = st.tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")
    with warnings.catch_warnings():  # tracer notes; the tests check the graph against torch
        warnings.simplefilter("ignore")
        torch.onnx.export(
            SentenceVector().eval(),
            (example["input_ids"], example["attention_mask"]),
            str(folder / FP32),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter handles dynamic batch and length without onnxscript
        )
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs "consider pre-processing" advice as a warning
    try:
        quantize_dynamic(
            str(folder / FP32), str(folder / INT8), per_channel=True, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8
        )
    finally:
        root.setLevel(level)
    tokenizer_json = location / "tokenizer.json"
    if tokenizer_json.exists():
        shutil.copy(tokenizer_json, folder / "tokenizer.json")
    else:
        st.tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    meta = {
        "source": str(location),
        "dimension": int((getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)()),
        "max_seq_length": int(st.max_seq_length),
        "pooling": mode,
        "export_version": EXPORT_VERSION,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))


def exported_model(location: Path, cache: Path | None = None) -> Path:
    """The folder holding the model's ONNX exports (fp32 and int8), built on first use under `cache`."""
    return cached_build(Path(location), "onnx", _export, cache)


def load_tokenizer(path: Path, max_length: int):
    """The model's fast tokenizer, truncating at `max_length` and padding nothing (batches are
    padded to their own longest text)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


@lru_cache(maxsize=4)
def _session(path: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Encodes texts with an exported model: unit-length float32 vectors."""

    def __init__(self, location: Path, quantized: bool = True, threads: int | None = None, cache: Path | None = None):
        folder = exported_model(location, cache)
        self.meta = json.loads((folder / "meta.json").read_text())
        self.dimension = int(self.meta["dimension"])
        self.tokenizer = load_tokenizer(folder / "tokenizer.json", int(self.meta["max_seq_length"]))
        self.session = _session(str(folder / (INT8 if quantized else FP32)), threads or os.cpu_count() or 1)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Texts are encoded shortest first, so each batch pads to about its own length."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1
            out[rows] = self.run(ids, mask)
        return out

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Sentence vectors of already tokenised, padded input."""
        return self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})[0]
