"""`IdIndex` against Arrow's own `index_in`, the oracle, on ids shaped like the store's and on the
awkward cases: slices, chunks, large strings, nulls, empty and non-ASCII strings, shared hashes."""

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.stores import id_sets
from vcf_pipeline.lib.stores.id_sets import IdIndex, found_in


def _oracle(values: pa.Array, among: pa.Array) -> np.ndarray:
    at = pc.index_in(values, value_set=among)
    return np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _ids(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    bases = "ACGT"
    return [
        f"GRCh38:chr{rng.choice(['1', '2', 'X', 'MT'])}-{rng.randrange(1, 250_000_000)}-"
        f"{''.join(rng.choices(bases, k=rng.randrange(1, 40)))}-{''.join(rng.choices(bases, k=rng.randrange(1, 4)))}"
        for _ in range(n)
    ]


def test_positions_are_those_arrow_finds():
    stored = list(dict.fromkeys(_ids(20_000, 1)))
    index = IdIndex(pa.array(stored))
    asked = pa.array(stored[::7] + _ids(3_000, 2) + ["", "é-ñ-文", None] + stored[-5:])
    assert np.array_equal(index.positions(asked), _oracle(asked, pa.array(stored)))
    assert index.contains(asked).to_pylist() == [p >= 0 for p in _oracle(asked, pa.array(stored))]


def test_slices_chunks_and_large_strings_are_read_at_their_offsets():
    stored = pa.array(list(dict.fromkeys(_ids(5_000, 3))) + ["", "é-ñ-文"])
    index = IdIndex(pa.chunked_array([stored.slice(0, 2_000), stored.slice(2_000)]).cast(pa.large_string()))
    asked = pa.concat_arrays([stored.slice(4_000), pa.array(_ids(500, 4))]).slice(37)
    assert np.array_equal(index.positions(asked), _oracle(asked, stored))
    assert np.array_equal(index.positions(asked.cast(pa.large_string())), _oracle(asked, stored))


def test_empty_index_and_empty_batch():
    assert IdIndex(pa.array([], pa.string())).positions(pa.array(["a", None])).tolist() == [-1, -1]
    assert IdIndex(pa.array(["a"])).positions(pa.array([], pa.string())).tolist() == []


def test_strings_that_share_a_hash_are_told_apart(monkeypatch):
    # Every string hashes alike: each answer then rests on the comparison of the strings themselves.
    stored = pa.array(["b", "a", "c", "d"])
    monkeypatch.setattr(id_sets, "_hashes", lambda values: np.full(len(values), 7, np.uint64))
    index = IdIndex(stored)
    asked = pa.array(["c", "a", "z", "d", "b", None])
    assert index.positions(asked).tolist() == [2, 1, -1, 3, 0, -1]


def test_found_in_is_membership_whichever_side_is_larger():
    among = pa.array(_ids(1_000, 5))
    values = pa.array(among.to_pylist()[::3] + _ids(50, 6))
    expected = pc.is_in(values, value_set=among)
    assert found_in(values, among).equals(expected)
    assert found_in(values.slice(0, 10), among).equals(expected.slice(0, 10))
