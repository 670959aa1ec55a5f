"""INFO values of a batch of records as Arrow columns, read from the INFO text: one column of raw
value strings per key (null where the record lacks the key), and the value pysam's
`record.info.get` gives for a raw string, so per-batch code answers exactly as per-record code did.

pysam's values, which the annotation columns were always computed from: a String is the text, split
on ',' into a tuple when the header's Number is not 1 or the text holds a comma; an Integer or Float
is a number (a Float rounded to 32 bits, as htslib stores it), `.` or unparseable text None, and a
tuple unless Number is 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

READABLE_TYPES = ("String", "Integer", "Float")  # the INFO types this module decodes as pysam does


def info_values(info: pa.Array, keys: Iterable[str]) -> dict[str, pa.Array]:
    """Each key's raw value text per record (the first `KEY=` of the record's INFO), null where absent;
    a flag (`KEY` alone) gives an empty text."""
    keys = list(keys)
    rows = len(info)
    items = pc.split_pattern(info, ";")
    parents = pc.list_parent_indices(items).to_numpy()
    pairs = pc.split_pattern(pc.list_flatten(items), "=", max_splits=1)  # [KEY] or [KEY, value]
    key_of = pc.fill_null(pc.index_in(pc.list_element(pairs, 0), value_set=pa.array(keys, pa.string())), -1).to_numpy()
    has_value = pc.list_value_length(pairs).to_numpy() == 2
    value_at = pairs.offsets.to_numpy()[:-1] + 1
    values = pc.list_flatten(pairs)
    found = {}
    for k, key in enumerate(keys):
        where = np.flatnonzero(key_of == k)
        if not len(where):
            found[key] = pa.nulls(rows, pa.string())
            continue
        item = np.full(rows, -1, dtype=np.int64)
        item[parents[where][::-1]] = where[::-1]  # the first occurrence wins
        present = item >= 0
        valued = present & has_value[item]
        flag = present & ~valued
        text = values.take(pa.array(np.where(valued, value_at[item], 0), mask=~present))
        found[key] = pc.if_else(pa.array(flag), pa.scalar(""), text) if flag.any() else text
    return found


def by_distinct(values: pa.Array, function: Callable, type: pa.DataType) -> pa.Array:
    """`function` of each value (null for null), computed once per distinct value."""
    encoded = pc.dictionary_encode(values).combine_chunks() if isinstance(values, pa.ChunkedArray) else pc.dictionary_encode(values)
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], type=type)
    return mapped.take(encoded.indices)


def true_where(mask) -> np.ndarray:
    """A boolean column as a numpy mask, null read as False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def pysam_value(raw: str | None, number: str, kind: str):
    """What `record.info.get(key)` returns for a raw INFO value text (None when the key is absent)."""
    if raw is None:
        return None
    if kind == "String":
        return tuple(raw.split(",")) if number != "1" or "," in raw else raw
    parse = float32_or_none if kind == "Float" else integer_or_none
    parts = [parse(part) for part in raw.split(",")]
    return parts[0] if number == "1" and len(parts) == 1 else tuple(parts)


def float32_or_none(text: str | None) -> float | None:
    """A number as htslib stores a Float (32 bits); None for no text or text that is no number."""
    try:
        return float(np.float32(float(text))) if text is not None else None
    except ValueError:
        return None


def integer_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
