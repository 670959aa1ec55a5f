"""The LanceDB store on its own: replacing and retracting a partition's rows."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, FILE_VARIANTS, VARIANTS
from vcf_pipeline.lib.vcf.annotation_merge import ANNOTATION
from vcf_pipeline.lib.vcf.calls import CALL_SCHEMA
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA

DIM = 4


def calls(samples, variant_id="1-10-A-G"):
    n = len(samples)
    return pa.RecordBatch.from_pydict(
        {"sample": samples, "variant_id": [variant_id] * n, "gt": ["0/1"] * n, "zygosity": ["heterozygous"] * n,
         "dp": [10] * n, "gq": [50] * n, "ad": [[5, 5]] * n},
        schema=CALL_SCHEMA,
    )


def variants(ids):
    """Variant rows with embedding columns, as the ingest step writes them."""
    n = len(ids)
    columns = {f.name: pa.nulls(n, f.type) for f in VARIANT_SCHEMA}
    columns["variant_id"] = pa.array(ids, pa.string())
    columns["description"] = pa.array([f"variant {i}" for i in ids])
    columns["text_hash"] = pa.array(ids)
    columns["embedding"] = pa.array([[1.0, 0.0, 0.0, 0.0]] * n, pa.list_(pa.float32(), DIM))
    columns["embedding_model"] = pa.array(["m"] * n)
    return pa.RecordBatch.from_pydict(columns)


def owned(ids):
    """A partition's ownership batch: its variant ids and (here empty) annotation of them."""
    return variants(ids).select(["variant_id", *ANNOTATION])


def ingest(store, key, ids, samples=()):
    """What the pipeline's LanceDB step does for one partition: (calls written, variants removed)."""
    store.upsert_variants([variants(ids)], DIM)
    return store.replace_partition(key, 2, lambda: iter([owned(ids)]), lambda: iter([calls(list(samples), ids[0])]))[:2]


def ids_in(store, table):
    return sorted(store.read(table, columns=["variant_id"]).column("variant_id").to_pylist())


def test_replacing_calls_touches_only_that_partition(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/a.vcf", ["1-10-A-G"], ["S1", "S2", "S3"])
    ingest(store, "src/b.vcf", ["1-10-A-G"], ["S9"])
    assert ingest(store, "src/a.vcf", ["1-20-C-T"], ["S4"]) == (1, 0)
    rows = store.read(CALLS, columns=["partition_key", "sample"]).to_pylist()
    assert sorted((r["partition_key"], r["sample"]) for r in rows) == [("src/a.vcf", "S4"), ("src/b.vcf", "S9")]
    store.replace_partition("src/a.vcf", 2, lambda: iter([owned(["1-20-C-T"])]), lambda: iter([]))
    assert store.count(CALLS) == 1


def test_a_changed_partition_drops_only_the_variants_no_file_holds(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/a.vcf", ["v1", "v2", "v3"], ["S1"])
    ingest(store, "src/b.vcf", ["v3", "v4"], ["S2"])
    # a.vcf changes: v1 and v2 leave it; v2 is still nowhere else, v3 is still in b.vcf.
    assert ingest(store, "src/a.vcf", ["v3", "v5"], ["S1"]) == (1, 2)
    assert ids_in(store, VARIANTS) == ["v3", "v4", "v5"]
    assert store.count(FILE_VARIANTS) == 4


def test_retracting_a_partition_leaves_the_store_as_if_it_never_came(tmp_path):
    store = VariantStore(tmp_path)
    ingest(store, "src/b.vcf", ["v3", "v4"], ["S2"])
    before = {t: store.read(t).sort_by("variant_id").to_pylist() for t in (VARIANTS, FILE_VARIANTS)}
    ingest(store, "src/a.vcf", ["v1", "v3"], ["S1"])
    assert store.retract_partition("src/a.vcf") == (1, ["v3"])  # v3: b.vcf still holds it
    assert {t: store.read(t).sort_by("variant_id").to_pylist() for t in (VARIANTS, FILE_VARIANTS)} == before
    assert store.read(CALLS, columns=["sample"]).column("sample").to_pylist() == ["S2"]
    assert store.retract_partition("src/a.vcf") == (0, [])  # idempotent: a re-run finds nothing to do


def test_a_retried_commit_reads_the_calls_afresh(tmp_path):
    store = VariantStore(tmp_path)
    attempts = []

    def batches():
        attempts.append(1)
        yield calls(["S1", "S2"])
        if len(attempts) == 1:
            raise RuntimeError("Commit conflict for version 3: another writer committed first")
        yield calls(["S3"])

    assert store.replace_partition("src/a.vcf", 2, lambda: iter([]), batches) == (3, 0, [])
    assert len(attempts) == 2
    assert store.count(CALLS, "partition_key = 'src/a.vcf'") == 3


def test_errors_other_than_conflicts_are_not_retried(tmp_path):
    store = VariantStore(tmp_path)
    attempts = []

    def broken():
        attempts.append(1)
        raise OSError("disk full")
        yield

    with pytest.raises(Exception, match="disk full"):  # lance re-raises the stream's error as its own
        store.replace_partition("src/a.vcf", 2, lambda: iter([]), broken)
    assert len(attempts) == 1


def embedded_variants(universe, embedder):
    """Variant rows of generated variants with their real embeddings."""
    from vcf_pipeline.lib.embedding.text import describe_variant
    from vcf_pipeline.lib.vcf.identity import make_variant_id

    rows = [{"variant_id": make_variant_id("GRCh38", v.chrom, v.pos, v.ref, v.alt), "assembly": "GRCh38", "chrom": v.chrom, "pos": v.pos, "ref": v.ref, "alt": v.alt,
             "gene_symbol": v.gene[0], "consequence": v.consequence, "impact": v.impact, "hgvs_p": v.hgvs_p or None,
             "hgvs_c": v.hgvs_c, "clinical_significance": v.significance, "variant_type": "SNV"} for v in universe]
    texts = [describe_variant(r) for r in rows]
    vectors = embedder.encode(texts)
    batch = pa.RecordBatch.from_pylist(
        [{**r, "description": t, "text_hash": t, "embedding_model": embedder.model_id} for r, t in zip(rows, texts)],
        schema=pa.schema([*VARIANT_SCHEMA, pa.field("description", pa.string()), pa.field("text_hash", pa.string()),
                          pa.field("embedding_model", pa.string())]),
    )
    dim = vectors.shape[1]
    return pa.RecordBatch.from_arrays([*batch.columns, pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim)],
                                      names=[*batch.schema.names, "embedding"]), dim


def test_upkeep_builds_updates_and_retrains_the_vector_index(tmp_path):
    from vcf_pipeline.lib.embedding.embedder import Embedder
    from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy
    from vcf_pipeline.lib.vcf.synthetic import variant_universe

    embedder = Embedder()
    universe = variant_universe(3000, seed=3)
    store = VariantStore(tmp_path / "db", IndexPolicy(min_rows=600, max_unindexed_rows=50, min_distinct_vectors=100))
    batch, dim = embedded_variants(universe[:500], embedder)
    store.upsert_variants([batch], dim)
    actions = store.maintain().actions  # below min_rows: exact search only; the search indexes from the start
    assert not any("IVF_RQ" in a for a in actions) and "built full-text index on keywords" in actions

    batch, _ = embedded_variants(universe[500:700], embedder)
    store.upsert_variants([batch], dim)
    assert "built IVF_RQ index" in store.maintain().actions[0]
    table = store.db.open_table(VARIANTS)
    [index] = [i.name for i in table.list_indices() if i.columns == ["embedding"]]
    assert index == "embedding_ivfrq_700"

    batch, _ = embedded_variants(universe[700:800], embedder)
    store.upsert_variants([batch], dim)
    assert store.maintain().actions == [f"folded 100 new rows into {index}", "folded 100 new rows into the search indexes (a delta each)"]
    assert table.index_stats(index).num_unindexed_rows == 0

    queries = embedder.encode(["BRCA1 frameshift_variant pathogenic", "CFTR synonymous benign", "TP53 stop_gained"])
    for q in queries:
        exact = store.search(q, limit=10, exact=True).column("variant_id").to_pylist()
        approx = store.search(q, limit=10).column("variant_id").to_pylist()
        assert len(set(exact) & set(approx)) >= 8

    batch, _ = embedded_variants(universe[800:3000], embedder)
    store.upsert_variants([batch], dim)
    assert store.maintain().actions[0].startswith("retrained IVF_RQ index")
    assert [i.name for i in store.db.open_table(VARIANTS).list_indices() if i.columns == ["embedding"]] == ["embedding_ivfrq_3000"]


def test_rows_past_the_limit_are_folded_in_the_vector_index_merged_the_search_indexes_as_deltas(tmp_path):
    """Past `max_unindexed_rows` new rows, upkeep folds them into the vector index (merged: searches
    stop scanning them) and into each search index as a delta beside it, merging the deltas once an
    index would have `max_index_segments`."""
    from vcf_pipeline.lib.embedding.embedder import Embedder
    from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy
    from vcf_pipeline.lib.vcf.synthetic import variant_universe

    embedder = Embedder()
    universe = variant_universe(765, seed=6)
    store = VariantStore(tmp_path / "db", IndexPolicy(min_rows=600, min_distinct_vectors=100, max_unindexed_rows=20, max_index_segments=3))
    batch, dim = embedded_variants(universe[:700], embedder)
    store.upsert_variants([batch], dim)
    assert "built IVF_RQ index" in store.maintain().actions[0]
    table = store.db.open_table(VARIANTS)
    index = "embedding_ivfrq_700"

    def indexed_nearest(row: int) -> str:  # the index alone answers (`fast_search`): rows outside it are not seen
        query = table.search(np.asarray(new.column("embedding")[row].as_py(), np.float32), vector_column_name="embedding")
        return query.distance_type("cosine").nprobes(32).refine_factor(20).fast_search().limit(1).to_arrow()["variant_id"][0].as_py()

    def segments_and_unindexed() -> dict[str, tuple[int, int]]:
        table.checkout_latest()
        return {i.name: (table.index_stats(i.name).num_indices, table.index_stats(i.name).num_unindexed_rows) for i in table.list_indices()}

    new, _ = embedded_variants(universe[700:715], embedder)
    store.upsert_variants([new], dim)
    assert store.maintain().actions == []  # 15 rows outside: searched without the indexes, cheaply
    new, _ = embedded_variants(universe[700:740], embedder)
    store.upsert_variants([new], dim)
    assert segments_and_unindexed()[index] == (1, 40)
    new_ids = new.column("variant_id").to_pylist()
    assert indexed_nearest(39) != new_ids[39]
    assert store.maintain().actions == [f"folded 40 new rows into {index}", "folded 40 new rows into the search indexes (a delta each)"]
    folded = segments_and_unindexed()
    assert folded[index] == (1, 0)  # merged into the index, not a delta beside it
    assert folded["keywords_idx"] == folded["variant_id_idx"] == folded["gene_symbol_idx"] == (2, 0)
    assert [indexed_nearest(row) for row in (0, 20, 39)] == [new_ids[0], new_ids[20], new_ids[39]]
    assert store.search(new.column("embedding")[20].as_py(), limit=1).column("variant_id")[0].as_py() == new_ids[20]

    new, _ = embedded_variants(universe[740:765], embedder)
    store.upsert_variants([new], dim)
    assert store.maintain().actions == [f"folded 25 new rows into {index}", "folded 25 new rows into the search indexes, merged"]
    merged = segments_and_unindexed()
    assert merged["keywords_idx"] == merged["variant_id_idx"] == merged[index] == (1, 0)
    assert store.read(VARIANTS, ["variant_id"], where=f"variant_id = '{new_ids[5]}'").num_rows == 1


def test_new_ownership_rows_are_folded_into_their_indexes_as_deltas_merged_at_the_segment_limit(tmp_path):
    """`file_variants` and `calls` take new rows into their look-up indexes once more than
    `max_unindexed_fraction` of their rows are outside them: a delta beside each index, the deltas
    merged once an index would have `max_index_segments`; look-ups answer the same throughout."""
    from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy

    store = VariantStore(tmp_path, IndexPolicy(max_unindexed_fraction=0.2, max_index_segments=3))
    table = store.db.open_table

    def segments_and_unindexed(name: str) -> dict[str, tuple[int, int]]:
        t = table(name)
        return {i.name: (t.index_stats(i.name).num_indices, t.index_stats(i.name).num_unindexed_rows) for i in t.list_indices()}

    ingest(store, "src/a.vcf", [f"a{i}" for i in range(100)], ["S1"])
    assert segments_and_unindexed(FILE_VARIANTS) == {"partition_key_idx": (1, 0), "variant_id_idx": (1, 0)}  # built with the first rows
    ingest(store, "src/b.vcf", [f"b{i}" for i in range(10)], ["S2"])
    assert not [a for a in store.maintain().actions if a.startswith(FILE_VARIANTS)]  # 10 of 110 outside: under a fifth
    ingest(store, "src/c.vcf", [f"c{i}" for i in range(50)], ["S3"])
    actions = store.maintain().actions
    assert f"{FILE_VARIANTS}: folded 60 new rows into its indexes (a delta each)" in actions
    assert segments_and_unindexed(FILE_VARIANTS) == {"partition_key_idx": (2, 0), "variant_id_idx": (2, 0)}
    ingest(store, "src/d.vcf", [f"d{i}" for i in range(100)], ["S4"])
    assert f"{FILE_VARIANTS}: folded 100 new rows into its indexes (merged)" in store.maintain().actions
    assert segments_and_unindexed(FILE_VARIANTS) == {"partition_key_idx": (1, 0), "variant_id_idx": (1, 0)}
    for key, first in (("src/a.vcf", "a0"), ("src/c.vcf", "c0"), ("src/d.vcf", "d7")):
        assert store.count(FILE_VARIANTS, f"partition_key = '{key}'") == (50 if key == "src/c.vcf" else 100)
        assert store.read(FILE_VARIANTS, ["partition_key"], where=f"variant_id = '{first}'").column(0).to_pylist() == [key]


def test_small_fragments_are_compacted_with_their_rows_and_index_coverage_unchanged(tmp_path):
    """Past `max_small_fragments`, upkeep merges a table's fragments (pages copied where it can):
    the rows read the same, the indexes still cover every row they covered, look-ups by index
    answer the same."""
    from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy

    store = VariantStore(tmp_path, IndexPolicy(max_small_fragments=3, max_unindexed_fraction=1.0))
    for n in range(6):
        ingest(store, f"src/{n}.vcf", [f"v{n}-{i}" for i in range(40)], [f"S{n}"])
    table = store.db.open_table(FILE_VARIANTS)
    before = table.to_arrow().sort_by([("partition_key", "ascending"), ("variant_id", "ascending")])
    fragments = table.stats()["fragment_stats"]["num_fragments"]
    covered = {i.name: table.index_stats(i.name).num_indexed_rows for i in table.list_indices()}
    assert fragments > 3

    actions = store.maintain().actions
    assert any(a.startswith(f"{FILE_VARIANTS}: compacted") for a in actions), actions
    table = store.db.open_table(FILE_VARIANTS)
    assert table.stats()["fragment_stats"]["num_fragments"] < fragments
    assert table.to_arrow().sort_by([("partition_key", "ascending"), ("variant_id", "ascending")]).equals(before)
    assert {i.name: table.index_stats(i.name).num_indexed_rows for i in table.list_indices()} == covered
    assert store.read(FILE_VARIANTS, ["partition_key"], where="variant_id = 'v4-7'").column(0).to_pylist() == ["src/4.vcf"]
    assert store.count(FILE_VARIANTS, "partition_key = 'src/2.vcf'") == 40


def test_an_index_of_the_earlier_kind_is_replaced_at_the_next_upkeep(tmp_path):
    """Stores made before IVF_RQ hold an IVF_PQ index named `embedding_ivfpq_<rows>`: upkeep retrains
    it as IVF_RQ (searches use the old one until the new one is built), and leaves a person's own alone."""
    from lancedb.index import IvfPq

    from vcf_pipeline.lib.embedding.embedder import Embedder
    from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy
    from vcf_pipeline.lib.vcf.synthetic import variant_universe

    embedder = Embedder()
    store = VariantStore(tmp_path / "db", IndexPolicy(min_rows=600, min_distinct_vectors=100))
    batch, dim = embedded_variants(variant_universe(700, seed=4), embedder)
    store.upsert_variants([batch], dim)
    table = store.db.open_table(VARIANTS)
    table.create_index("embedding", config=IvfPq(distance_type="cosine", num_partitions=8, num_sub_vectors=48), name="embedding_ivfpq_700")
    query = embedder.encode(["BRCA1 frameshift_variant pathogenic"])[0]
    before = store.search(query, limit=5).column("variant_id").to_pylist()
    assert store.maintain().actions[0].startswith("retrained IVF_RQ index")
    kinds = {i.name: i.index_type for i in store.db.open_table(VARIANTS).list_indices() if i.columns == ["embedding"]}
    assert kinds == {"embedding_ivfrq_700": "IvfRq"}
    assert store.search(query, limit=5).column("variant_id").to_pylist()[0] == before[0] == store.search(query, limit=5, exact=True).column("variant_id")[0].as_py()
    assert not any("IVF" in a for a in store.maintain().actions)  # current now: nothing to do


def test_upsert_rewrites_only_new_and_changed_rows(tmp_path):
    store = VariantStore(tmp_path / "db")
    assert store.upsert_variants([variants(["1-10-A-G", "1-20-A-G"])], DIM) == (2, 2, 0)
    assert store.upsert_variants([variants(["1-10-A-G", "1-20-A-G"])], DIM) == (2, 0, 0)
    changed = variants(["1-10-A-G", "1-20-A-G", "1-30-A-G"]).to_pydict()
    changed["rsid"][1] = "rs123"  # not in the text: the row digest still sees it
    assert store.upsert_variants([pa.RecordBatch.from_pydict(changed)], DIM) == (3, 1, 1)
    assert store.read(VARIANTS, ["rsid"], "variant_id = '1-20-A-G'").column("rsid").to_pylist() == ["rs123"]


def test_a_table_from_before_row_digests_gets_them_and_its_rows_count_as_changed_once(tmp_path):
    from vcf_pipeline.lib.stores.variant_tables import ROW_KEY, variants_schema

    store = VariantStore(tmp_path / "db")
    old = pa.Table.from_batches([variants(["1-10-A-G"])])
    store.db.create_table(VARIANTS, old.select([f.name for f in variants_schema(DIM) if f.name not in (ROW_KEY, "keywords")]))
    assert store.upsert_variants([variants(["1-10-A-G"])], DIM) == (1, 0, 1)
    assert store.upsert_variants([variants(["1-10-A-G"])], DIM) == (1, 0, 0)


def test_rows_are_compared_with_their_own_stored_digest(tmp_path):
    store = VariantStore(tmp_path / "db")
    store.upsert_variants([variants(["1-10-A-G", "1-20-A-G"])], DIM)
    twins = variants(["1-10-A-G", "1-20-A-G"]).to_pydict()
    twins["description"] = ["same text", "same text"]  # 1-20 now equals what 1-10 will be...
    twins["text_hash"] = ["same", "same"]
    store.upsert_variants([pa.RecordBatch.from_pydict({k: v[:1] for k, v in twins.items()})], DIM)
    # ...but its own stored row differs, so it is rewritten.
    assert store.upsert_variants([pa.RecordBatch.from_pydict(twins)], DIM) == (2, 0, 1)


def test_ownership_rows_from_before_per_file_annotations_take_the_annotation_their_variant_shows(tmp_path):
    from vcf_pipeline.lib.vcf.annotation_merge import FILE_VARIANTS_SCHEMA

    store = VariantStore(tmp_path)
    batch = variants(["v1", "v2"])
    store.upsert_variants([batch.set_column(batch.schema.get_field_index("gene_symbol"), "gene_symbol", pa.array(["GENE1", None]))], DIM)
    store.db.create_table(FILE_VARIANTS, data=pa.table({"partition_key": ["src/a.vcf", "src/b.vcf"], "variant_id": ["v1", "v2"]}))
    # The next write of any partition migrates the table: new columns, old rows filled from `variants`.
    ingest(store, "src/c.vcf", ["v3"], ["S1"])
    rows = {r["variant_id"]: r for r in store.read(FILE_VARIANTS).to_pylist()}
    assert store.db.open_table(FILE_VARIANTS).schema.names == FILE_VARIANTS_SCHEMA.names
    assert (rows["v1"]["gene_symbol"], rows["v1"]["transcript_rank"]) == ("GENE1", 2)
    assert rows["v2"]["gene_symbol"] is None and rows["v3"]["partition_key"] == "src/c.vcf"


def test_a_row_written_without_its_vector_gets_the_stored_one_or_a_new_one(tmp_path):
    """The embedding step leaves out the vectors of texts the store holds; the upsert gets them for
    the rows it writes (stored ones read back as they are, others encoded), and leaves rows it does
    not write without reading any."""
    from vcf_pipeline.lib.embedding.embedder import Embedder
    from vcf_pipeline.lib.embedding.text import text_hash
    from vcf_pipeline.lib.stores.stored_rows import vectors_for
    from vcf_pipeline.lib.vcf.synthetic import variant_universe

    embedder = Embedder()
    store = VariantStore(tmp_path / "db")
    batch, dim = embedded_variants(variant_universe(3, seed=5), embedder)
    hashes = pa.array([text_hash(t) for t in batch.column("description").to_pylist()])
    batch = batch.set_column(batch.schema.get_field_index("text_hash"), "text_hash", hashes)
    store.upsert_variants([batch], dim)
    stored = store.read(VARIANTS, ["variant_id", "description", "embedding"]).to_pylist()
    asked: list[list[str]] = []

    def vectors(texts):
        asked.append(texts)
        return vectors_for(store, texts, embedder.model_id, embedder.encode)

    rows = batch.to_pylist()
    twin = {**rows[0], "variant_id": "1-999-A-G", "embedding": None}  # a new row with a stored text
    unknown = {**rows[1], "variant_id": "1-998-A-G", "description": "a text nobody embedded", "text_hash": "new", "embedding": None}
    same = {**rows[2], "embedding": None}  # unchanged: not rewritten, its vector not looked up
    without = pa.RecordBatch.from_pylist([twin, unknown, same], schema=batch.schema)
    with pytest.raises(ValueError, match="no vector"):
        store.upsert_variants([without], dim)
    assert store.upsert_variants([without], dim, vectors) == (3, 2, 0)
    assert asked == [[rows[0]["description"], "a text nobody embedded"]]  # the two new rows' texts, nothing else
    now = {r["variant_id"]: r for r in store.read(VARIANTS, ["variant_id", "embedding"]).to_pylist()}
    by_text = {r["description"]: r["embedding"] for r in stored}
    assert now["1-999-A-G"]["embedding"] == by_text[rows[0]["description"]]  # the stored vector, exactly
    fresh = embedder.encode(["a text nobody embedded"])[0]
    assert float(np.dot(now["1-998-A-G"]["embedding"], fresh)) > 0.999
    assert now[rows[2]["variant_id"]]["embedding"] == by_text[rows[2]["description"]]


def test_the_embedding_step_writes_vectors_only_for_texts_the_store_lacks(tmp_path):
    from vcf_pipeline.lib.embedding.embedder import Embedder, embed_variant_file
    from vcf_pipeline.lib.embedding.text import describe_variant, text_hash
    from vcf_pipeline.lib.stores.consistency import embeddings_sane
    from vcf_pipeline.lib.stores.warehouse import EMBEDDINGS, PartitionFiles, parse_into
    from vcf_pipeline_tests.conftest import SHARED_VCF

    embedder = Embedder()
    files = PartitionFiles(tmp_path / "warehouse", "src/clinvar.vcf")
    parse_into(SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz", files)
    texts = [describe_variant(r) for r in files.variants.open().read().to_pylist()]
    known = {text_hash(t) for t in texts[::2]}  # as if the store held every other text
    with files.output(EMBEDDINGS) as out:
        stats = embed_variant_file(files.variants, out, embedder, pa.array(sorted(known) + ["a hash of no text here"]))
    written = files.embeddings.open().read()
    assert written["description"].to_pylist() == texts
    has_vector = [v is not None for v in written["embedding"].to_pylist()]
    assert has_vector == [text_hash(t) not in known for t in texts]
    assert stats.cached == len(known) and stats.embedded == len({t for t in texts if text_hash(t) not in known})
    # Each vector written is its own text's: as near to it, encoded again, as to any other text.
    # int8 vectors vary a little with the batch they were encoded in (up to ~0.01 of cosine), more
    # than texts that differ only in allele order do (`SNV T>C` / `SNV C>T`: 0.993); another
    # variant's text scores ~0.87.
    rows = [i for i, v in enumerate(has_vector) if v]
    again = embedder.encode(texts)
    vectors = np.array([written["embedding"][i].as_py() for i in rows], dtype=np.float32)
    scores = vectors @ again.T
    own = scores[np.arange(len(rows)), rows]
    assert (own >= 0.98).all() and (own >= scores.max(axis=1) - 0.01).all()
    outcome = embeddings_sane(files, embedder.dimension)
    assert outcome.passed and outcome.metadata["vectors_written"] == sum(has_vector) < len(texts)


def test_a_file_of_known_texts_is_joined_with_its_variants_without_reading_vectors(tmp_path, monkeypatch):
    """Every text known (a re-ingest): the embeddings file holds no vector, and the write step's
    batches are made without reading the vector column, the same batches as a full read. With some
    vectors, the column is read."""
    from vcf_pipeline.lib.embedding.embedder import Embedder, embed_variant_file
    from vcf_pipeline.lib.embedding.text import describe_variant, text_hash
    from vcf_pipeline.lib.stores import warehouse
    from vcf_pipeline.lib.stores.warehouse import EMBEDDINGS, PartitionFiles, parse_into
    from vcf_pipeline_tests.conftest import SHARED_VCF

    embedder = Embedder()
    files = PartitionFiles(tmp_path / "warehouse", "src/clinvar.vcf")
    parse_into(SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz", files)
    texts = [describe_variant(r) for r in files.variants.open().read().to_pylist()]
    embeddings_read = []  # the columns asked of the embeddings file (None: all)
    stream = warehouse.stream_batches

    def watched(file, rows=20_000, columns=None):
        if file == files.embeddings:
            embeddings_read.append(columns)
        return stream(file, rows, columns)

    monkeypatch.setattr(warehouse, "stream_batches", watched)

    def joined(known: list[str]) -> pa.Table:
        with files.output(EMBEDDINGS) as out:
            embed_variant_file(files.variants, out, embedder, pa.array(sorted({text_hash(t) for t in known})))
        embeddings_read.clear()
        return pa.Table.from_batches(list(warehouse.variant_batches_with_embeddings(files, batch_rows=7)))

    none_read = joined(texts)
    assert embeddings_read == [["variant_id", "description", "text_hash", "embedding_model"]]
    assert none_read["embedding"].null_count == none_read.num_rows == len(texts)
    expected = files.variants.open().read()
    expected = expected.append_column("embedding", pa.nulls(expected.num_rows, none_read.schema.field("embedding").type))
    assert none_read.select(expected.column_names).equals(expected.cast(none_read.select(expected.column_names).schema))
    assert none_read["description"].to_pylist() == texts

    some_read = joined(texts[::2])
    assert embeddings_read == [None]  # the embeddings file read whole
    assert [v is not None for v in some_read["embedding"].to_pylist()] == [text_hash(t) not in {text_hash(k) for k in texts[::2]} for t in texts]


def test_shared_rows_a_window_at_a_time_are_the_rows_looked_up_by_id(tmp_path, monkeypatch):
    """`SharedRows` (one scan of `file_variants` per window of a partition's shared ids) against
    `file_annotation_rows` (the id-index look-up), with windows of 12 ids: batches of 10 in file
    order, windows ending inside a batch, and a batch out of order at the end."""
    from vcf_pipeline.lib.stores import stored_rows

    store = VariantStore(tmp_path)
    ids = [f"v{i:03d}" for i in range(60)]
    ingest(store, "src/a.vcf", ids[:40])
    ingest(store, "src/b.vcf", ids[20:50])
    ingest(store, "src/c.vcf", ids[::3])
    monkeypatch.setattr(stored_rows, "_WINDOW_IDS", 12)
    monkeypatch.setattr(stored_rows, "_FEW_IDS", 1)  # every batch asks for enough ids to scan for
    scans = []
    scan = store.scan
    monkeypatch.setattr(store, "scan", lambda *a, **k: scans.append(a) or scan(*a, **k))
    in_file = ids[::-1]  # c.vcf anew, its rows in another order; v050-v059 are its alone
    batches = [pa.array(in_file[i : i + 10], pa.string()) for i in range(0, len(in_file), 10)]
    shared_rows = stored_rows.SharedRows(store, "src/c.vcf", lambda: batches)

    def key(row):
        return row["partition_key"], row["variant_id"]

    for batch in [*batches, batches[0]]:
        shared = batch.filter(shared_rows.held(batch))
        expected = stored_rows.file_annotation_rows(store, shared.to_pylist()).to_pylist()
        assert sorted(shared_rows.rows(shared).to_pylist(), key=key) == sorted(expected, key=key)
        assert {r["variant_id"] for r in expected} == set(shared.to_pylist())  # a row for every shared id
        assert not set(shared.to_pylist()) & set(ids[50:])  # and c.vcf's own are not shared
    assert 4 <= len(scans) <= 6  # 50 shared ids in windows of 12 (+ the batch out of order)

    monkeypatch.setattr(stored_rows, "_FEW_IDS", 5)  # a few ids at a time are looked up by id, no scan
    scans.clear()
    shared_rows = stored_rows.SharedRows(store, "src/c.vcf", lambda: batches)
    few = [ids[3], ids[21], ids[45]]
    assert sorted(shared_rows.rows(pa.array(few)).to_pylist(), key=key) == sorted(stored_rows.file_annotation_rows(store, few).to_pylist(), key=key)
    assert scans == []


def test_digests_taken_anew_for_the_merged_rows_are_those_of_the_whole_batch():
    """A batch whose shared rows the merge changed keeps the other rows' digests and digests the
    changed ones again: the same digests as the whole batch digested afresh."""
    from vcf_pipeline.lib.stores import stored_rows
    from vcf_pipeline.lib.stores.variant_tables import ROW_KEY, with_row_keys

    before = variants([f"v{i}" for i in range(6)])
    changed = pa.array([False, True, False, False, True, True])
    columns = {name: before.column(name) for name in before.schema.names}
    columns["gene_symbol"] = pc.if_else(changed, pa.scalar("BRCA2"), columns["gene_symbol"])
    columns["description"] = pc.if_else(changed, pa.scalar("merged text"), columns["description"])
    after = pa.RecordBatch.from_pydict(columns, schema=before.schema)
    keyed = with_row_keys(before, DIM)
    anew = stored_rows._keyed_anew(after, keyed, changed)
    assert anew.equals(with_row_keys(after, DIM))
    assert anew[ROW_KEY].to_pylist() != keyed[ROW_KEY].to_pylist()  # the merge did change digests
