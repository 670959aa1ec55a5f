"""Search of the `variants` table in three modes.

- `hybrid` (the default): the query is read first (`query_reading`); what it names exactly becomes a
  filter, and the words left over rank the matches by two lists fused by reciprocal rank (RRF, k=60):
  the full-text index over `keywords` (BM25) and the vector index (cosine distance to the whole
  query's embedding, so the gene still gives the words their context). With nothing left to rank by,
  the matches come in order of impact, then position.
- `keyword`: the same reading, ranked by the full-text index alone.
- `semantic`: the whole text embedded and ranked by the vector index alone, nothing read exactly
  (what search did before; kept to compare and for questions asked in sentences).

Each row says why it is where it is (`reasons`): what it matched exactly, and its rank in each list."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.keywords import KEYWORDS, query_words
from vcf_pipeline.lib.search.modes import MODES
from vcf_pipeline.lib.search.query_reading import TOKEN_KINDS, ReadQuery, read_query
from vcf_pipeline.lib.search.selection import all_of, parse_region, quoted

RRF_K = 60
_DEPTH = 30  # rows each ranked list contributes to the fusion (at least 3x the limit)
_IMPACT_ORDER = {"HIGH": 0, "MODERATE": 1, "LOW": 2, "MODIFIER": 3}
MAX_MATCHES = 50_000  # rows an exact lookup may select before the ranking (more: say so)
_FEW = 1_000
EXACT_BELOW = 20_000  # filtered rows searched exactly (the index's own threshold: IndexPolicy.min_rows)
_LONG = 1_000  # variants longer than this are looked up one by one for the region window
# Variants one identifier may name before its matches stop being a filter (an `IN` list of their ids:
# LanceDB's SQL parser takes 64,000 characters). An rsID names one or two; `c.100A>G` without its
# gene, in a store of many genes, may name more: the note says to name the gene.
MAX_NAMED = 1_000


class SearchRefused(ValueError):
    """A search that cannot run as asked (an unknown mode, no text)."""


@dataclass
class SearchResult:
    query: str
    mode: str
    reading: list[str]
    rows: list[dict] = field(default_factory=list)  # each with `score` and `reasons`
    note: str = ""  # why there are no rows, or what the ranking lacked


def _shared_ranks(costs: dict[str, float]) -> dict[str, int]:
    """Rank 1 for the lowest cost; equal costs share the best rank they tie for (1, 2, 2, 4)."""
    ordered = sorted(costs.values())
    return {key: bisect_left(ordered, cost) + 1 for key, cost in costs.items()}


class VariantSearch:
    """Searches over one `variants` table. `encode(texts)` embeds a query with the model that
    embedded the store; it is called only when a mode needs a vector (loading a model costs seconds)."""

    def __init__(self, table, encode: Callable[[list[str]], object], nprobes: int = 32, refine_factor: int = 20, exact: bool = False):
        self.table, self.encode = table, encode
        self.nprobes, self.refine_factor, self.exact = nprobes, refine_factor, exact
        self._longest: tuple[int, int] | None = None  # (table version, longest span)
        self._genes: tuple[int, frozenset[str]] | None = None  # (table version, its gene symbols)
        self._reads = 0
        self._fts = any(KEYWORDS in index.columns and index.index_type == "FTS" for index in table.list_indices())

    def search(self, text: str, mode: str = "hybrid", limit: int = 10, where: str | None = None, columns: list[str] | None = None) -> SearchResult:
        if mode not in MODES:
            raise SearchRefused(f"mode {mode!r}: one of {', '.join(MODES)}")
        if not text.strip():
            raise SearchRefused("nothing to search for")
        columns = list(dict.fromkeys(["variant_id", *(columns or [])]))
        if mode == "semantic":
            hits = self.nearest(text, limit, where, columns)
            rows = [self._row(r, 1.0 - r["_distance"], [_meaning(i, r)]) for i, r in enumerate(hits, 1)]
            return SearchResult(text, mode, [f"ranked by the meaning of {text!r} (no exact reading)"], rows)
        read = read_query(text, self.known_genes)
        reading = read.describe()
        exact, note = self.exact_filter(read, where)
        if read.lookups and exact is None:  # a name that matches nothing: say so, no near misses
            return SearchResult(text, mode, reading, note=note)
        where = all_of(where, exact)
        if not read.rest:
            rows, complete = self._listed(read, where, limit, columns)
            if not complete:
                note = f"more than {MAX_MATCHES:,} variants match: ordered among the first {MAX_MATCHES:,}"
            elif not rows:
                note = "no variant in the store is " + " and ".join(lookup.describe() for lookup in read.lookups)
            return SearchResult(text, mode, reading + ["ordered by impact, then position"], rows, note)
        if not self._fts or not query_words(read.rest):
            missing = "no full-text index yet (the next ingest's upkeep builds it)" if not self._fts else ""
            if mode == "keyword":
                return SearchResult(text, mode, reading, note=missing or f"no words to rank by in {read.rest!r}")
            hits = self.nearest(text, limit, where, columns)
            rows = [self._row(h, 1.0 / (RRF_K + i), self._exact_reasons(read) + [_meaning(i, h)]) for i, h in enumerate(hits, 1)]
            return SearchResult(text, mode, reading, rows, missing + (": ranked by meaning only" if missing else ""))
        if mode == "keyword":
            hits = self._keyword_ranked(read.rest, limit, where, columns)
            rows = [self._row(h, h["_score"], self._exact_reasons(read) + [_keyword(i, h, read.rest)]) for i, h in enumerate(hits, 1)]
        else:
            rows = self._hybrid(text, read, limit, where, columns)
        return SearchResult(text, mode, reading, rows, note)

    def _hybrid(self, text: str, read: ReadQuery, limit: int, where: str | None, columns: list[str]) -> list[dict]:
        """LanceDB's hybrid query: the full-text and the vector lists, each `_DEPTH` deep, fused by
        reciprocal rank. One query runs both lists at once in LanceDB: at 1M rows 27 ms, against 45 ms
        for the same two lists asked for one after the other (bench/README.md)."""
        import numpy as np
        from lancedb.rerankers import RRFReranker

        vector = np.asarray(self.encode([text])[0], dtype=np.float32)
        depth = max(_DEPTH, 3 * limit)
        query = (
            self.table.search(query_type="hybrid", vector_column_name="embedding", fts_columns=KEYWORDS)
            .vector(vector)
            .text(query_words(read.rest))
            .distance_type("cosine")
            .rerank(RRFReranker(K=RRF_K, return_score="all"))
        )
        if self._exact_within(where):
            query = query.bypass_vector_index()
        else:
            query = query.nprobes(self.nprobes).refine_factor(max(1, self.refine_factor * 10 // depth))
        if where:
            query = query.where(where, prefilter=True)
        hits = query.select(columns).limit(depth).to_arrow().to_pylist()
        # The fusion is recomputed from both lists' raw scores with tied rows sharing a rank, then
        # ordered by id among equals: LanceDB ranks ties in whatever order its threads finish, so
        # the same query could order (and page) its results differently from one call to the next.
        by_keyword = _shared_ranks({h["variant_id"]: -h["_score"] for h in hits if h["_score"] is not None})
        by_meaning = _shared_ranks({h["variant_id"]: h["_distance"] for h in hits if h["_distance"] is not None})
        fused = {h["variant_id"]: sum(1.0 / (RRF_K + ranks[h["variant_id"]]) for ranks in (by_keyword, by_meaning) if h["variant_id"] in ranks)
                 for h in hits}  # fmt: skip
        rows = []
        for hit in sorted(hits, key=lambda h: (-fused[h["variant_id"]], h["variant_id"]))[:limit]:
            reasons = self._exact_reasons(read)
            if hit["variant_id"] in by_keyword:
                reasons.append(_keyword(by_keyword[hit["variant_id"]], hit, read.rest))
            if hit["variant_id"] in by_meaning:
                reasons.append(_meaning(by_meaning[hit["variant_id"]], hit))
            rows.append(self._row(hit, fused[hit["variant_id"]], reasons))
        return rows

    @staticmethod
    def _exact_reasons(read: ReadQuery) -> list[str]:
        return ["exact: " + "; ".join(lookup.describe() for lookup in read.lookups)] if read.lookups else []

    def known_genes(self, words: Iterable[str]) -> dict[str, str]:
        """Which of `words` are gene symbols held by some variant. The first query asks the index
        once per word (2-4 ms each at 1M rows); a process that searches again (the explorer,
        `--queries`) reads the table's symbols once per table version (0.15 s at 1M) and asks nothing."""
        words = list(dict.fromkeys(words))
        self._reads += 1
        if self._reads == 1:
            return {word: word for word in words if self.table.count_rows(f"gene_symbol = {quoted(word)}")}
        version = self.table.version
        if self._genes is None or self._genes[0] != version:
            symbols = self.table.search().select(["gene_symbol"]).limit(None).to_arrow()["gene_symbol"].combine_chunks()
            self._genes = (version, frozenset(pc.unique(symbols).drop_null().to_pylist()))
        return {word: word for word in words if word in self._genes[1]}

    def exact_filter(self, read: ReadQuery, where: str | None) -> tuple[str | None, str]:
        """SQL for what the query names, and a note: which name matched nothing (the SQL is then None),
        or which named too many to search them all."""
        clauses, note = [], ""
        genes = [lookup.value for lookup in read.of_kind("gene")]
        if genes:
            clauses.append(f"gene_symbol IN ({', '.join(map(quoted, genes))})")
        if read.of_kind("gene_id"):
            clauses.append(f"gene_id IN ({', '.join(quoted(lookup.value) for lookup in read.of_kind('gene_id'))})")
        if read.of_kind("region"):
            longest = self._longest_span()
            clauses.append(" OR ".join(parse_region(lookup.value.replace(",", "")).sql(longest) for lookup in read.of_kind("region")))
        if read.of_kind("rsid"):
            clauses.append(f"rsid IN ({', '.join(quoted(lookup.value) for lookup in read.of_kind('rsid'))})")
        if read.of_kind("variant_id"):
            ids = [i for lookup in read.of_kind("variant_id") for i in lookup.value.split(",")]
            clauses.append(f"variant_id IN ({', '.join(map(quoted, ids))})")
        for kind in TOKEN_KINDS:
            lookups = read.of_kind(kind)
            if not lookups:
                continue
            tokens = [lookup.value for lookup in lookups]
            ids = self._ids_with_tokens(tokens, None)  # the index alone is fastest; narrowed below when it names many
            if len(ids) > MAX_NAMED and (where or clauses):
                ids = self._ids_with_tokens(tokens, all_of(where, *clauses))
            names = " or ".join(lookup.describe() for lookup in lookups)
            if not ids:
                return None, f"no variant in the store has {names}"
            if len(ids) > MAX_NAMED:
                note = f"more than {MAX_NAMED:,} variants have {names}: only the first {MAX_NAMED:,} are searched (name the gene to narrow it)"
                ids = ids[:MAX_NAMED]
            clauses.append(f"variant_id IN ({', '.join(map(quoted, ids))})")
        return all_of(*clauses), note

    def _exact_within(self, where: str | None) -> bool:
        """Exact vector search when asked, or when the filter leaves few rows: the index probes a few
        of its partitions and keeps the rows the filter allows there, which for a gene of 50 variants
        among 1M found 6 of the true 10 (recall@10 0.60); exact search over so few rows is faster anyway."""
        return self.exact or (where is not None and self.table.count_rows(where) <= EXACT_BELOW)

    def _longest_span(self) -> int:
        """The longest `end - pos` in the table (read once per table version: one scan for the
        rare variants longer than 1 kb)."""
        if self._longest is None or self._longest[0] != self.table.version:
            long = self.table.search().where(f"`end` - pos > {_LONG}").select(["pos", "end"]).limit(None).to_arrow()
            spans = pc.subtract(long["end"], long["pos"]) if long.num_rows else None
            self._longest = (self.table.version, max(_LONG, pc.max(spans).as_py() if spans is not None else 0))
        return self._longest[1]

    def _ids_with_tokens(self, tokens: list[str], where: str | None) -> list[str]:
        """Ids of the variants whose keywords hold any of `tokens` (whole tokens)."""
        ids: dict[str, None] = {}
        if self._fts:
            from lancedb.query import MatchQuery

            for token in tokens:
                query = self.table.search(MatchQuery(token, KEYWORDS), query_type="fts").select(["variant_id", "_score"]).limit(MAX_NAMED + 1)
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

    def nearest(self, text: str, limit: int, where: str | None, columns: list[str], vector=None) -> list[dict]:
        """The `limit` rows nearest to the embedding of `text` among those `where` selects. The index
        re-ranks `refine_factor` x 10 candidates on exact vectors whatever the limit (a deeper list
        for the fusion needs no more: at 50 rows x 20 the re-ranking alone took longer than the search)."""
        from vcf_pipeline.lib.stores.vector_search import nearest

        vector = self.encode([text])[0] if vector is None else vector
        refine = max(1, self.refine_factor * 10 // limit)
        return nearest(self.table, vector, limit, where, columns, exact=self._exact_within(where), nprobes=self.nprobes, refine_factor=refine).to_pylist()

    def _keyword_ranked(self, words: str, limit: int, where: str | None, columns: list[str]) -> list[dict]:
        from lancedb.query import MatchQuery

        terms = query_words(words)
        if not terms:
            return []
        query = self.table.search(MatchQuery(terms, KEYWORDS), query_type="fts").select([*columns, "_score"]).limit(limit)
        if where:
            query = query.where(where, prefilter=True)
        return query.to_arrow().to_pylist()

    def _listed(self, read: ReadQuery, where: str | None, limit: int, columns: list[str]) -> tuple[list[dict], bool]:
        """The exact matches, most severe first, then by position; and whether all were ordered."""
        keys = ["impact", "chrom", "pos"]
        # An rsID, a variant id or a change names a few variants: one query reads them whole. A gene
        # or a region alone may hold thousands: their sort keys first, then the chosen rows.
        few = any(lookup.kind not in ("gene", "gene_id", "region") for lookup in read.lookups)
        found = self._rows(where, list(dict.fromkeys([*columns, *keys])), _FEW + 1) if few else None
        complete = True
        if found is None or found.num_rows > _FEW:
            found = self._rows(where, ["variant_id", *keys], MAX_MATCHES + 1)
            complete = found.num_rows <= MAX_MATCHES
            found = found.slice(0, MAX_MATCHES)
        if not found.num_rows:
            return [], True
        order = pa.array([_IMPACT_ORDER.get(i, 4) for i in found["impact"].to_pylist()], pa.int8())
        chosen = found.append_column("order", order).sort_by([("order", "ascending"), ("chrom", "ascending"), ("pos", "ascending")]).slice(0, limit)
        if not set(columns) <= set(chosen.column_names):
            ids = chosen["variant_id"].to_pylist()
            by_id = {r["variant_id"]: r for r in self._rows(f"variant_id IN ({', '.join(map(quoted, ids))})", columns, len(ids)).to_pylist()}
            chosen = pa.Table.from_pylist([by_id[i] for i in ids if i in by_id])
        exact = "exact: " + "; ".join(lookup.describe() for lookup in read.lookups)
        return [self._row({c: r[c] for c in columns}, 1.0, [exact]) for r in chosen.to_pylist()], complete

    def _rows(self, where: str | None, columns: list[str], limit: int) -> pa.Table:
        query = self.table.search().select(columns).limit(limit)
        return (query.where(where) if where else query).to_arrow()

    @staticmethod
    def _row(hit: dict, score: float, reasons: list[str]) -> dict:
        row = {k: v for k, v in hit.items() if not k.startswith("_")}
        return {**row, "score": round(score, 6), "reasons": reasons}


def _keyword(rank: int, hit: dict, words: str) -> str:
    return f"keyword rank {rank} (BM25 {hit['_score']:.2f} for {query_words(words)!r})"


def _meaning(rank: int, hit: dict) -> str:
    return f"meaning rank {rank} (cosine distance {hit['_distance']:.3f})"
