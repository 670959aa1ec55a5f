"""A static (lookup-table) embedding distilled from a sentence-transformers model, model2vec style.

Every vocabulary token is run once through the model ([CLS] token [SEP]) and its sentence vector
becomes the token's row. (model2vec also applies PCA and SIF weighting; on variant texts both made
neighbours agree less with the model's, so neither is applied.) A text's vector is the mean of its rows:
tens of thousands of texts per second on one core, at lower quality than the model itself.
The result is saved as a sentence-transformers `StaticEmbedding` model (loadable with
`SentenceTransformer(path)`), and run here with `tokenizers` and numpy alone. Distilling uses the
ONNX export of the model, so it needs no model2vec `distill` extra (which downgrades transformers).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from vcf_pipeline.lib.embedding.onnx_backend import (
    OnnxEncoder,
    cached_build,
    exported_model,
    load_tokenizer,
)

MODULE_FOLDER = "0_StaticEmbedding"
_DISTILL_BATCH = 512
_ENCODE_CHUNK = 256


def distill_vectors(location: Path, cache: Path | None = None) -> tuple[np.ndarray, object]:
    """(vocabulary x dimension) token vectors from the model, and its tokenizer."""
    encoder = OnnxEncoder(location, quantized=False, cache=cache)
    tokenizer = encoder.tokenizer
    specials = tokenizer.encode("").ids  # e.g. [CLS] [SEP]: each token is embedded between them
    size = tokenizer.get_vocab_size()
    vectors = np.zeros((size, encoder.dimension), dtype=np.float32)
    for start in range(0, size, _DISTILL_BATCH):
        end = min(size, start + _DISTILL_BATCH)
        batch = np.array([[*specials[:1], token, *specials[1:]] for token in range(start, end)], dtype=np.int64)
        vectors[start:end] = encoder.run(batch, np.ones_like(batch))
    return vectors, tokenizer


def _distill(location: Path, folder: Path, cache: Path | None = None) -> None:
    from safetensors.numpy import save_file

    vectors, tokenizer = distill_vectors(location, cache)
    table = vectors  # centring, PCA and SIF weighting all measured worse on variant texts
    module = folder / MODULE_FOLDER
    module.mkdir()
    save_file({"embedding.weight": table}, str(module / "model.safetensors"))
    tokenizer.no_truncation()
    tokenizer.save(str(module / "tokenizer.json"))
    (module / "config.json").write_text(json.dumps({}))
    (folder / "2_Normalize").mkdir()
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": MODULE_FOLDER, "type": "sentence_transformers.models.StaticEmbedding"},
                {"idx": 1, "name": "1", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ],
            indent=1,
        )
    )
    (folder / "meta.json").write_text(json.dumps({"source": str(location), "dimension": int(table.shape[1]), "method": "token vectors, unweighted"}, indent=1))


def distilled_model(location: Path, cache: Path | None = None) -> Path:
    """The folder of the static model distilled from `location`, built on first use under `cache`."""
    exported_model(location, cache)
    return cached_build(Path(location), "static", lambda model, folder: _distill(model, folder, cache), cache)


@lru_cache(maxsize=2)
def _table(path: str) -> np.ndarray:
    from safetensors.numpy import load_file

    return load_file(path)["embedding.weight"]


class StaticEncoder:
    """Mean of token rows, normalised: unit-length float32 vectors."""

    def __init__(self, location: Path, cache: Path | None = None):
        module = distilled_model(location, cache) / MODULE_FOLDER
        self.table = _table(str(module / "model.safetensors"))
        self.dimension = int(self.table.shape[1])
        self.tokenizer = load_tokenizer(module / "tokenizer.json", 512)

    def encode(self, texts: list[str], batch_size: int = 0) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        for start in range(0, len(texts), _ENCODE_CHUNK):  # the gathered rows stay a few MB
            chunk = encodings[start : start + _ENCODE_CHUNK]
            lengths = np.fromiter((len(e.ids) for e in chunk), dtype=np.int64, count=len(chunk))
            if not lengths.any():
                continue
            ids = np.fromiter((i for e in chunk for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            nonempty = lengths > 0
            out[start : start + len(chunk)][nonempty] = np.add.reduceat(self.table[ids], offsets[nonempty], axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)
