"""The one nearest-neighbour query on `variants.embedding`: cosine distance, through the vector index
(probing `nprobes` partitions, re-ranking `refine_factor` x limit candidates on exact vectors) unless
`exact`, with a filter applied before the search."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def nearest(table, vector, limit: int, where: str | None = None, columns: list[str] | None = None, *,
            exact: bool = False, nprobes: int = 32, refine_factor: int = 20) -> pa.Table:  # fmt: skip
    query = table.search(np.asarray(vector, dtype=np.float32), vector_column_name="embedding").distance_type("cosine")
    query = query.bypass_vector_index() if exact else query.nprobes(nprobes).refine_factor(refine_factor)
    if where:
        query = query.where(where, prefilter=True)
    if columns:
        query = query.select([*columns, "_distance"])
    return query.limit(limit).to_arrow()
