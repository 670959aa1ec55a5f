"""Search of the `variants` table in three modes.

- `hybrid` (the default): the query is read first (`query_reading`); what it names exactly becomes a
  filter, and the words left over rank the matches by two lists fused by reciprocal rank (RRF, k=60):
  the full-text index over `keywords` (BM25) and the vector index (cosine distance to the whole
  query's embedding, so the gene still gives the words their context). With nothing left to rank by,
  the matches come in order of impact, then position.
- `keyword`: the same reading, ranked by the full-text index alone.
- `semantic`: the whole text embedded and ranked by the vector index alone, nothing read exactly
  (what search did before; kept to compare and for questions asked in sentences).

Our own fusion rather than LanceDB's hybrid query: it runs the same two queries, and keeping the
ranks lets each row say why it is where it is (`reasons`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.keywords import KEYWORDS, query_words
from vcf_pipeline.lib.search.modes import MODES
from vcf_pipeline.lib.search.query_reading import TOKEN_KINDS, ReadQuery, read_query
from vcf_pipeline.lib.search.selection import all_of, quoted

RRF_K = 60
_IMPACT_ORDER = {"HIGH": 0, "MODERATE": 1, "LOW": 2, "MODIFIER": 3}
MAX_MATCHES = 50_000  # rows an exact lookup may select before the ranking (more: say so)


class SearchRefused(ValueError):
    """A search that cannot run as asked (an unknown mode, no text)."""


@dataclass
class SearchResult:
    query: str
    mode: str
    reading: list[str]
    rows: list[dict] = field(default_factory=list)  # each with `score` and `reasons`
    note: str = ""  # why there are no rows, or what the ranking lacked


class VariantSearch:
    """Searches over one `variants` table. `encode(texts)` embeds a query with the model that
    embedded the store; it is called only when a mode needs a vector (loading a model costs seconds)."""

    def __init__(self, table, encode: Callable[[list[str]], object], nprobes: int = 32, refine_factor: int = 20, exact: bool = False):
        self.table, self.encode = table, encode
        self.nprobes, self.refine_factor, self.exact = nprobes, refine_factor, exact
        self._fts = any(KEYWORDS in index.columns and index.index_type == "FTS" for index in table.list_indices())

    def search(self, text: str, mode: str = "hybrid", limit: int = 10, where: str | None = None, columns: list[str] | None = None) -> SearchResult:
        if mode not in MODES:
            raise SearchRefused(f"mode {mode!r}: one of {', '.join(MODES)}")
        if not text.strip():
            raise SearchRefused("nothing to search for")
        columns = list(dict.fromkeys(["variant_id", *(columns or [])]))
        if mode == "semantic":
            hits = self.nearest(text, limit, where, columns)
            rows = [self._row(r, 1.0 - r["_distance"], [f"meaning rank {i} (cosine distance {r['_distance']:.3f})"]) for i, r in enumerate(hits, 1)]
            return SearchResult(text, mode, [f"ranked by the meaning of {text!r} (no exact reading)"], rows)
        read = read_query(text, self.known_genes)
        reading = read.describe()
        exact, missing = self.exact_filter(read, where)
        if missing:
            return SearchResult(text, mode, reading, note=missing)
        where = all_of(where, exact)
        if not read.rest:
            rows, complete = self._listed(read, where, limit, columns)
            note = "" if complete else f"more than {MAX_MATCHES:,} variants match: ordered among the first {MAX_MATCHES:,}"
            return SearchResult(text, mode, reading + ["ordered by impact, then position"], rows, note)
        if not self._fts:
            note = "no full-text index yet (the next ingest's upkeep builds it)"
            if mode == "keyword":
                return SearchResult(text, mode, reading, note=note)
            return SearchResult(text, mode, reading, self._fused({"meaning": self.nearest(text, limit, where, columns)}, limit, read), note + ": ranked by meaning only")
        depth = max(50, 5 * limit)
        lists = {"keyword": self._keyword_ranked(read.rest, depth, where, columns)}
        if mode == "hybrid":
            lists["meaning"] = self.nearest(text, depth, where, columns)
        return SearchResult(text, mode, reading, self._fused(lists, limit, read))

    def known_genes(self, words: Iterable[str]) -> dict[str, str]:
        """Which of `words` are gene symbols held by some variant (one indexed lookup each)."""
        found = {}
        for word in dict.fromkeys(words):
            rows = self.table.search().where(f"gene_symbol = {quoted(word)}").select(["gene_symbol"]).limit(1).to_arrow()
            if rows.num_rows:
                found[word] = rows["gene_symbol"][0].as_py()
        return found

    def exact_filter(self, read: ReadQuery, where: str | None) -> tuple[str | None, str]:
        """SQL for what the query names, and a line saying which name matched nothing (else "")."""
        clauses = []
        genes = [lookup.value for lookup in read.of_kind("gene")]
        if genes:
            clauses.append(f"gene_symbol IN ({', '.join(map(quoted, genes))})")
        if read.of_kind("gene_id"):
            clauses.append(f"gene_id IN ({', '.join(quoted(lookup.value) for lookup in read.of_kind('gene_id'))})")
        if read.of_kind("region"):
            from vcf_pipeline.lib.search.selection import parse_region

            clauses.append(" OR ".join(parse_region(lookup.value.replace(",", "")).sql() for lookup in read.of_kind("region")))
        if read.of_kind("variant_id"):
            ids = [i for lookup in read.of_kind("variant_id") for i in lookup.value.split(",")]
            clauses.append(f"variant_id IN ({', '.join(map(quoted, ids))})")
        for kind in TOKEN_KINDS:
            lookups = read.of_kind(kind)
            if not lookups:
                continue
            ids = self._ids_with_tokens([lookup.value for lookup in lookups], all_of(where, *clauses))
            if not ids:
                names = " or ".join(lookup.describe() for lookup in lookups)
                return None, f"no variant{' of ' + ', '.join(genes) if genes else ''} in the store has {names}"
            clauses.append(f"variant_id IN ({', '.join(map(quoted, ids))})")
        return all_of(*clauses), ""

    def _ids_with_tokens(self, tokens: list[str], where: str | None) -> list[str]:
        """Ids of the variants whose keywords hold any of `tokens` (whole tokens)."""
        ids: dict[str, None] = {}
        if self._fts:
            from lancedb.query import MatchQuery

            for token in tokens:
                query = self.table.search(MatchQuery(token, KEYWORDS), query_type="fts").select(["variant_id", "_score"]).limit(MAX_MATCHES)
                if where:
                    query = query.where(where, prefilter=True)
                ids.update(dict.fromkeys(query.to_arrow()["variant_id"].to_pylist()))
            return list(ids)
        # No full-text index yet (a store smaller than one ingest's upkeep has seen): scan the column.
        query = self.table.search().select(["variant_id", KEYWORDS]).limit(None)
        rows = (query.where(where) if where else query).to_arrow()
        padded = pc.binary_join_element_wise(" ", pc.fill_null(rows[KEYWORDS], ""), " ", "")
        for token in tokens:
            hit = pc.match_substring(padded, f" {token} ")
            ids.update(dict.fromkeys(rows["variant_id"].filter(hit).to_pylist()))
        return list(ids)

    def nearest(self, text: str, limit: int, where: str | None, columns: list[str]) -> list[dict]:
        """The `limit` rows nearest to the embedding of `text` among those `where` selects."""
        import numpy as np

        vector = np.asarray(self.encode([text])[0], dtype=np.float32)
        query = self.table.search(vector, vector_column_name="embedding").distance_type("cosine")
        query = query.bypass_vector_index() if self.exact else query.nprobes(self.nprobes).refine_factor(self.refine_factor)
        if where:
            query = query.where(where, prefilter=True)
        return query.select([*columns, "_distance"]).limit(limit).to_arrow().to_pylist()

    def _keyword_ranked(self, words: str, limit: int, where: str | None, columns: list[str]) -> list[dict]:
        from lancedb.query import MatchQuery

        terms = query_words(words)
        if not terms:
            return []
        query = self.table.search(MatchQuery(terms, KEYWORDS), query_type="fts").select([*columns, "_score"]).limit(limit)
        if where:
            query = query.where(where, prefilter=True)
        return query.to_arrow().to_pylist()

    def _fused(self, lists: dict[str, list[dict]], limit: int, read: ReadQuery) -> list[dict]:
        fused: dict[str, dict] = {}
        exact = "; ".join(lookup.describe() for lookup in read.lookups)
        for name, hits in lists.items():
            for rank, hit in enumerate(hits, 1):
                entry = fused.setdefault(hit["variant_id"], {"row": hit, "score": 0.0, "reasons": [f"exact: {exact}"] if exact else []})
                entry["score"] += 1.0 / (RRF_K + rank)
                if name == "keyword":
                    entry["reasons"].append(f"keyword rank {rank} (BM25 {hit['_score']:.2f} for {query_words(read.rest)!r})")
                else:
                    entry["reasons"].append(f"meaning rank {rank} (cosine distance {hit['_distance']:.3f})")
        ranked = sorted(fused.values(), key=lambda e: -e["score"])[:limit]
        return [self._row(e["row"], e["score"], e["reasons"]) for e in ranked]

    def _listed(self, read: ReadQuery, where: str | None, limit: int, columns: list[str]) -> tuple[list[dict], bool]:
        """The exact matches, most severe first, then by position; and whether all were ordered."""
        keys = self.table.search().select(["variant_id", "impact", "chrom", "pos"]).limit(MAX_MATCHES + 1)
        keys = (keys.where(where) if where else keys).to_arrow()
        complete = keys.num_rows <= MAX_MATCHES
        keys = keys.slice(0, MAX_MATCHES)
        if not keys.num_rows:
            return [], True
        order = pa.array([_IMPACT_ORDER.get(i, 4) for i in keys["impact"].to_pylist()], pa.int8())
        chosen = keys.append_column("order", order).sort_by([("order", "ascending"), ("chrom", "ascending"), ("pos", "ascending")]).slice(0, limit)
        ids = chosen["variant_id"].to_pylist()
        rows = {r["variant_id"]: r for r in self.table.search().where(f"variant_id IN ({', '.join(map(quoted, ids))})").select(columns).limit(len(ids)).to_arrow().to_pylist()}
        exact = "exact: " + "; ".join(lookup.describe() for lookup in read.lookups)
        return [self._row(rows[i], 1.0, [exact]) for i in ids if i in rows], complete

    @staticmethod
    def _row(hit: dict, score: float, reasons: list[str]) -> dict:
        row = {k: v for k, v in hit.items() if not k.startswith("_")}
        return {**row, "score": round(score, 6), "reasons": reasons}
