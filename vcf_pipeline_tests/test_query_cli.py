"""The query and curation commands on real ingested VCFs, through `vcf-pipeline` as a user runs them.

The read tests share one ingested home; each curation test works on its own copy of it, so every
test passes alone and in any order."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.backup.snapshots import scan_folder
from vcf_pipeline.lib.embedding.embedder import Embedder
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, VARIANTS
from vcf_pipeline_tests.conftest import SAMPLES, SHARED_VCF
from vcf_pipeline_tests.test_sqlfilter import HOSTILE

CLINVAR = SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz"
FILES = [CLINVAR, SHARED_VCF / "htslib__test__vcf44_1.vcf", SAMPLES / "family_trio.vcf"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("query_home")
    assert all(s.ok for s in ingest_paths(home, FILES))
    return home


@pytest.fixture
def writable_home(home, tmp_path):
    """A copy of the ingested home (stores, warehouse and Dagster instance) for a test that writes."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def lance(home) -> VariantStore:
    return VariantStore(home / "lancedb")


def graph(home) -> GraphStore:
    return GraphStore(home / "kuzu" / "graph.kuzu")


def store_bytes(home) -> list:
    return scan_folder(home / "lancedb") + scan_folder(home / "kuzu")


# --- read commands -----------------------------------------------------------------------------


@pytest.mark.parametrize("gene", ["SHOX", "TTC5", "POLR3K"])
def test_search_for_a_gene_and_pathogenic_ranks_its_pathogenic_variant_first(home, capsys, gene):
    result = run_json(capsys, "search", f"{gene} pathogenic", "--home", home, "--limit", 5)
    assert (result["query"], result["mode"]) == (f"{gene} pathogenic", "hybrid")
    top = result["results"][0]
    assert set(top) == {"variant_id", "gene_symbol", "consequence", "clinical_significance", "score", "reasons"}
    assert (top["gene_symbol"], top["clinical_significance"]) == (gene, "Pathogenic")
    assert {r["gene_symbol"] for r in result["results"]} == {gene}  # the gene is read exactly
    assert all(f"exact: gene {gene}" in r["reasons"] for r in result["results"])
    scores = [r["score"] for r in result["results"]]
    assert scores == sorted(scores, reverse=True)
    semantic = run_json(capsys, "search", f"{gene} pathogenic", "--mode", "semantic", "--home", home, "--limit", 5)["results"]
    assert [r["score"] for r in semantic] == sorted((r["score"] for r in semantic), reverse=True)


def test_search_by_vector_from_a_file_or_stdin_with_a_filter(home, capsys, tmp_path, monkeypatch):
    row = lance(home).read(VARIANTS, columns=["variant_id", "embedding"], where="gene_symbol = 'SHOX'").to_pylist()[0]
    vector_file = tmp_path / "v.json"
    vector_file.write_text(json.dumps(row["embedding"]))
    result = run_json(capsys, "search", "--vector", vector_file, "--home", home, "--limit", 2, "--select", "variant_id,chrom")
    assert result["results"][0]["variant_id"] == row["variant_id"] and result["results"][0]["distance"] < 1e-5
    assert set(result["results"][0]) == {"variant_id", "chrom", "score", "distance"}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(row["embedding"])))
    filtered = run_json(capsys, "search", "--vector", "-", "--home", home, "--filter", "gene_symbol != 'SHOX'")
    assert filtered["results"] and row["variant_id"] not in {r["variant_id"] for r in filtered["results"]}
    code, _, err = run(capsys, "search", "--vector", vector_file, "--home", home, "--select", "nope")
    assert code == 2 and "unknown column" in err
    vector_file.write_text("[1, 2, 3]")
    code, _, err = run(capsys, "search", "--vector", vector_file, "--home", home)
    assert code == 2 and "3 numbers" in err


def test_filter_returns_what_the_expression_selects_as_json_and_as_a_table(home, capsys):
    table = lance(home).read(VARIANTS)
    expected = table.filter(pc.and_(pc.equal(table["clinical_significance"], "Pathogenic"), pc.greater(table["pos"], 1000)))
    result = run_json(capsys, "filter", "clinical_significance = 'Pathogenic' AND pos > 1000", "--home", home, "--limit", 1000)
    assert result["count"] == expected.num_rows > 0
    assert sorted(r["variant_id"] for r in result["rows"]) == sorted(expected["variant_id"].to_pylist())
    assert set(result["rows"][0]) == {"variant_id", "chrom", "pos", "ref", "alt", "gene_symbol", "consequence", "clinical_significance"}
    code, out, _ = run(capsys, "filter", "gene_symbol = 'SHOX'", "--home", home, "--select", "variant_id,clinical_significance")
    assert code == 0 and out.splitlines()[0].split() == ["variant_id", "clinical_significance"] and out.rstrip().endswith("(2 rows)")


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_export_streams_the_selection_to_a_file(home, capsys, tmp_path, fmt):
    out = tmp_path / f"export.{fmt}"
    result = run_json(capsys, "export", "chrom IS NOT NULL", "--home", home, "--format", fmt, "--out", out, "--batch-rows", 7)
    expected = lance(home).read(VARIANTS)
    assert result["rows"] == expected.num_rows
    written = {"parquet": pq.read_table, "arrow": lambda p: pa.ipc.open_file(p).read_all(), "csv": pcsv.read_csv}[fmt](out)
    assert written.num_rows == expected.num_rows
    assert sorted(written["variant_id"].to_pylist()) == sorted(expected["variant_id"].to_pylist())
    assert ("embedding" in written.column_names) == (fmt != "csv")


def test_named_graph_queries_agree_with_lancedb(home, capsys):
    store = lance(home)
    variants = store.read(VARIANTS)
    calls = store.read(CALLS, where="zygosity IN ('heterozygous', 'homozygous', 'hemizygous')")  # the graph's CARRIES
    shox = run_json(capsys, "graph", "variants-in-gene", "SHOX", "--home", home)
    assert sorted(r["variant_id"] for r in shox["rows"]) == sorted(variants.filter(pc.equal(variants["gene_symbol"], "SHOX"))["variant_id"].to_pylist())

    carried = calls["variant_id"][0].as_py()
    samples = run_json(capsys, "graph", "samples-with-variant", carried, "--home", home)
    assert sorted(r["sample"] for r in samples["rows"]) == sorted(calls.filter(pc.equal(calls["variant_id"], carried))["sample"].to_pylist())
    assert set(samples["rows"][0]) == {"sample", "gt", "zygosity", "dp", "gq", "file"}

    by_sample = {}
    for r in calls.select(["sample", "variant_id"]).to_pylist():
        by_sample.setdefault(r["sample"], set()).add(r["variant_id"])
    a, b = sorted(by_sample, key=lambda s: -len(by_sample[s]))[:2]
    shared = run_json(capsys, "graph", "shared-variants", a, b, "--home", home)
    assert {r["variant_id"] for r in shared["rows"]} == by_sample[a] & by_sample[b]

    conditions = run_json(capsys, "graph", "genes-for-condition", "BREAST", "--home", home)
    assert conditions["rows"] and all("breast" in r["condition"].lower() for r in conditions["rows"])

    def carriers_expected(gene=None):
        significance = {r["variant_id"]: (r["clinical_significance"] or "", r["gene_symbol"]) for r in variants.to_pylist()}
        return {
            (c["sample"], c["variant_id"]) for c in calls.to_pylist()
            if "pathogenic" in significance[c["variant_id"]][0].lower() and gene in (None, significance[c["variant_id"]][1])
        }

    carriers = run_json(capsys, "graph", "carriers-of-significance", "pathogenic", "--home", home)
    assert {(r["sample"], r["variant_id"]) for r in carriers["rows"]} == carriers_expected() != set()
    in_gene = run_json(capsys, "graph", "carriers-of-significance", "pathogenic", "--gene", "TP53", "--home", home)
    assert {(r["sample"], r["variant_id"]) for r in in_gene["rows"]} == carriers_expected("TP53") != set()

    # Parameters are bound, never spliced into Cypher: hostile text is just a name nobody has.
    hostile = run_json(capsys, "graph", "variants-in-gene", "x'}) MATCH (n) DETACH DELETE n //", "--home", home)
    assert hostile["rows"] == [] and graph(home).count("(v:Variant)") == variants.num_rows
    code, _, err = run(capsys, "graph", "shared-variants", "only-one", "--home", home)
    assert code == 2 and "takes 2 argument" in err


def test_graph_waits_for_a_writer_then_gives_up_with_a_message(home, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import kuzu, sys, time; db = kuzu.Database(sys.argv[1]); print('held', flush=True); time.sleep(8)", str(graph(home).path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        code, _, err = run(capsys, "graph", "variants-in-gene", "SHOX", "--home", home, "--wait", 2)
        assert code == 1 and "stayed locked" in err and time.monotonic() - started >= 2
    finally:
        holder.kill()
        holder.wait()
    assert run_json(capsys, "graph", "variants-in-gene", "SHOX", "--home", home)["rows"]


def test_tables_schema_and_status_describe_both_stores(home, capsys):
    tables = run_json(capsys, "tables", "--home", home)
    lancedb = {t["table"]: t["rows"] for t in tables["lancedb"]}
    kuzu = {t["table"]: t["rows"] for t in tables["kuzu"]}
    assert lancedb[VARIANTS] == kuzu["Variant"] == lance(home).count(VARIANTS) and lancedb[CALLS] >= kuzu["CARRIES"]
    assert kuzu["CARRIES"] == lance(home).count(CALLS, "zygosity IN ('heterozygous', 'homozygous', 'hemizygous')")
    schema = run_json(capsys, "schema", "variants", "--home", home)
    columns = {c["column"]: c["type"] for c in schema["columns"]}
    assert columns["pos"] == "int64" and columns["embedding"].startswith("fixed_size_list<item: float>[384]")
    code, _, err = run(capsys, "schema", "nope", "--home", home)
    assert code == 2 and "no table" in err
    status = run_json(capsys, "status", "--home", home)
    assert status["lancedb"][VARIANTS]["rows"] == lancedb[VARIANTS] and status["kuzu"]["Variant"] == kuzu["Variant"]
    assert status["last_ingest"] and status["last_backup"] is None
    # ClinVar's test set and the samples say GRCh38; htslib's vcf44_1 names no build.
    assert set(status["variants_by_build"]) == {"GRCh38", "unknown"} and sum(status["variants_by_build"].values()) == lancedb[VARIANTS]
    assert any(i["columns"] == ["variant_id"] for i in status["indexes"][VARIANTS])
    for store in ("lancedb", "kuzu"):
        assert (home / store).stat().st_mode & 0o077 == 0  # owner-only


def test_hostile_filters_are_refused_everywhere_and_change_nothing(home, capsys, tmp_path):
    before = store_bytes(home)
    for text in HOSTILE:
        for argv in (
            ["filter", text],
            ["search", "x", "--filter", text],
            ["export", text, "--format", "csv", "--out", tmp_path / "x.csv"],
            ["delete-variants", text, "--yes"],
        ):
            code, _, err = run(capsys, *argv, "--home", home)
            assert code == 2 and "filter refused" in err, (argv, err)
    assert store_bytes(home) == before
    assert not (home / "audit.log").exists()


# --- curation (changes the home) ---------------------------------------------------------------


def audit_lines(home) -> list[dict]:
    return [json.loads(line) for line in (home / "audit.log").read_text().splitlines()]


def kuzu_variant(home, variant_id):
    rows = graph(home).query(
        "MATCH (v:Variant {variant_id: $id}) OPTIONAL MATCH (v)-[:IN_GENE]->(g:Gene) RETURN v.clinical_significance AS sig, g.symbol AS gene",
        {"id": variant_id},
    ).to_pylist()
    return rows[0] if rows else None


def test_update_variant_keeps_both_stores_agreeing_and_re_embeds_only_when_the_text_changes(writable_home, capsys):
    home = writable_home
    store = lance(home)
    [before] = store.read(VARIANTS, where="gene_symbol = 'TTC5'").to_pylist()
    result = run_json(capsys, "update-variant", before["variant_id"], "--set", '{"clinical_significance": "Benign", "gene_symbol": "TTC5B"}', "--home", home)
    assert result["re_embedded"] and result["changed"] == ["clinical_significance", "gene_symbol"]
    [after] = store.read(VARIANTS, where=f"variant_id = '{before['variant_id']}'").to_pylist()
    assert after["clinical_significance"] == "Benign" and after["embedding"] != before["embedding"]
    assert after["embedding"] == pytest.approx(Embedder().encode([after["description"]])[0].tolist(), abs=1e-5)
    assert kuzu_variant(home, before["variant_id"]) == {"sig": "Benign", "gene": "TTC5B"}
    assert graph(home).count("(g:Gene {symbol: 'TTC5'})") == 0  # its only variant moved away

    quiet = run_json(capsys, "update-variant", before["variant_id"], "--set", '{"qual": 99.5}', "--home", home)
    assert not quiet["re_embedded"]
    for bad, words in (('{"pos": 1}', "identity"), ('{"embedding": [1]}', "derived"), ('{"nope": 1}', "unknown column"),
                       ('{"qual": "high"}', "takes double"), ('[1]', "JSON object"), ("{", "not JSON")):
        code, _, err = run(capsys, "update-variant", before["variant_id"], "--set", bad, "--home", home)
        assert code == 2 and words in err, err
    code, _, err = run(capsys, "update-variant", "1-1-A-T", "--set", '{"qual": 1.0}', "--home", home)
    assert code == 2 and "no variant" in err


def test_add_variant_then_find_it_by_search_and_in_the_graph(writable_home, capsys, tmp_path):
    home = writable_home
    added = run_json(
        capsys, "add-variant", "--build", "GRCh38", "--chrom", "chrX", "--pos", 624345, "--ref", "C", "--alt", "T", "--gene-symbol", "SHOX",
        "--consequence", "stop_gained", "--clinical-significance", "Pathogenic", "--condition", "Leri-Weill dyschondrosteosis", "--home", home,
    )
    variant_id = added["variant_id"]
    assert variant_id == "GRCh38:chrX-624345-C-T" and "SHOX" in added["description"]
    assert kuzu_variant(home, variant_id) == {"sig": "Pathogenic", "gene": "SHOX"}
    hits = run_json(capsys, "search", "SHOX stop gained pathogenic Leri-Weill", "--home", home, "--limit", 3)["results"]
    assert variant_id in [h["variant_id"] for h in hits]
    # The same variant written the other way (Ensembl contig, the build's other name, an untrimmed allele) exists too.
    code, _, err = run(capsys, "add-variant", "--build", "hg38", "--chrom", "X", "--pos", 624345, "--ref", "CA", "--alt", "TA", "--home", home)
    assert code == 2 and "GRCh38:chrX-624345-C-T exists" in err
    code, _, err = run(capsys, "add-variant", "--build", "hg37", "--chrom", "X", "--pos", 1, "--ref", "C", "--alt", "T", "--home", home)
    assert code == 2 and "unknown genome build 'hg37'" in err
    short = tmp_path / "short.json"
    short.write_text("[0.5, 0.5]")
    code, _, err = run(capsys, "add-variant", "--build", "GRCh38", "--chrom", "chrX", "--pos", 1, "--ref", "C", "--alt", "T", "--embedding", short, "--home", home)
    assert code == 2 and "2 dimensions" in err


def test_delete_variants_removes_them_from_both_stores(writable_home, capsys, monkeypatch):
    home = writable_home
    store = lance(home)
    doomed = set(store.read(VARIANTS, columns=["variant_id"], where="gene_symbol = 'SHOX'")["variant_id"].to_pylist())
    assert len(doomed) == 2  # the ClinVar test set's two SHOX variants
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = run(capsys, "delete-variants", "gene_symbol = 'SHOX'", "--home", home)
    assert code == 2 and "pass --yes" in err  # no terminal to ask: refused, nothing deleted
    assert store.count(VARIANTS, "gene_symbol = 'SHOX'") == 2
    result = run_json(capsys, "delete-variants", "gene_symbol = 'SHOX'", "--yes", "--home", home)
    assert result["deleted"] == 2
    left = set(store.read(VARIANTS, columns=["variant_id"])["variant_id"].to_pylist())
    assert not doomed & left
    assert {r["id"] for r in graph(home).query("MATCH (v:Variant) RETURN v.variant_id AS id").to_pylist()} == left
    assert graph(home).count("(g:Gene {symbol: 'SHOX'})") == 0
    owned = set(store.read("file_variants", columns=["variant_id"])["variant_id"].to_pylist())
    assert not doomed & owned


def test_audit_log_records_every_write_without_literal_values(writable_home, capsys, tmp_path):
    home = writable_home
    [ttc5] = lance(home).read(VARIANTS, columns=["variant_id"], where="gene_symbol = 'TTC5'")["variant_id"].to_pylist()
    writes = [
        ("update-variant", ttc5, "--set", '{"clinical_significance": "Benign", "gene_symbol": "TTC5B"}'),
        ("update-variant", ttc5, "--set", '{"qual": "high"}'),  # refused by the store
        ("update-variant", ttc5, "--set", "{"),  # a usage error: never reaches the stores, no audit line
        ("add-variant", "--build", "GRCh38", "--chrom", "chrX", "--pos", 624345, "--ref", "C", "--alt", "T", "--gene-symbol", "SHOX",
         "--clinical-significance", "Pathogenic", "--condition", "Leri-Weill dyschondrosteosis"),
        ("add-variant", "--build", "GRCh38", "--chrom", "chrX", "--pos", 624345, "--ref", "C", "--alt", "T"),  # exists: refused
        ("delete-variants", "gene_symbol = 'SHOX'", "--yes"),
    ]
    codes = [run(capsys, *argv, "--home", home)[0] for argv in writes]
    assert codes == [0, 2, 2, 0, 2, 0]
    entries = audit_lines(home)
    # Every attempt that reached the stores, refused ones included.
    assert [(e["command"], e["outcome"]) for e in entries] == [
        ("update-variant", "ok"), ("update-variant", "refused"), ("add-variant", "ok"), ("add-variant", "refused"), ("delete-variants", "ok"),
    ]
    assert entries[-1]["filter"] == "`gene_symbol` = ?" and entries[-1]["rows"] == 3  # two ingested, one added
    assert entries[0]["columns"] == ["clinical_significance", "gene_symbol"]
    assert all(e["rows"] == 0 for e in entries if e["outcome"] != "ok")
    text = (home / "audit.log").read_text()
    for literal in ("SHOX", "Benign", "TTC5", "99.5", "624345", "Leri", "Pathogenic", "high"):
        assert literal not in text
    assert all(set(e) == {"time", "user", "command", "filter", "columns", "rows", "outcome"} for e in entries)
    assert (home / "audit.log").stat().st_mode & 0o077 == 0


def test_writes_wait_for_a_run_holding_the_pool_then_refuse(writable_home, capsys):
    home = writable_home
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("lancedb")
        assert storage.claim_concurrency_slot("lancedb", "0f0f0f0f-run", "lancedb_variants").is_claimed
        try:
            code, _, err = run(capsys, "update-variant", "x", "--set", '{"qual": 1.0}', "--wait", 1, "--home", home)
            assert code == 1 and "pool lancedb held by run 0f0f0f0f" in err
        finally:
            storage.free_concurrency_slot_for_step("0f0f0f0f-run", "lancedb_variants")


def test_create_index_builds_scalar_and_vector_indexes(shared_home, capsys, tmp_path):
    source, _ = shared_home
    home = tmp_path / "indexed"
    shutil.copytree(source / "lancedb", home / "lancedb")
    rows = lance(home).count(VARIANTS)
    assert rows >= 256
    for column, kind in (("gene_symbol", "BTREE"), ("chrom", "BITMAP")):
        assert run_json(capsys, "create-index", column, "--type", kind, "--home", home)["index_type"] == kind
    pq_index = run_json(capsys, "create-index", "embedding", "--type", "IVF_PQ", "--home", home)
    # The automatic index's rules: about sqrt(rows) partitions, 8 dimensions per PQ sub-vector.
    assert pq_index["num_partitions"] == int(rows**0.5) and pq_index["num_sub_vectors"] == 384 // 8
    indexes = {i.name: i.index_type for i in lance(home).db.open_table(VARIANTS).list_indices()}
    assert {"gene_symbol_idx", "chrom_idx", "embedding_idx"} <= set(indexes)
    hits = run_json(capsys, "search", "SAMD11 missense variant", "--home", home, "--limit", 3)["results"]
    assert "SAMD11" in [h["gene_symbol"] for h in hits]
    assert run_json(capsys, "create-index", "embedding", "--type", "IVF_HNSW_SQ", "--home", home)["index_type"] == "IVF_HNSW_SQ"
    rq_index = run_json(capsys, "create-index", "embedding", "--type", "IVF_RQ", "--home", home)
    assert rq_index["num_partitions"] == int(rows**0.5) and "num_sub_vectors" not in rq_index
    assert {i.index_type for i in lance(home).db.open_table(VARIANTS).list_indices() if i.columns == ["embedding"]} == {"IvfRq"}
    assert "SAMD11" in [h["gene_symbol"] for h in run_json(capsys, "search", "SAMD11 missense variant", "--home", home, "--limit", 3)["results"]]
    assert run_json(capsys, "create-index", "keywords", "--type", "FTS", "--home", home)["index_type"] == "FTS"
    rsid = lance(home).read(VARIANTS, ["rsid"], "rsid IS NOT NULL", limit=1)["rsid"][0].as_py()
    assert run_json(capsys, "search", rsid, "--home", home)["reading"] == [f"rsID {rsid} (exact)", "ordered by impact, then position"]
    code, _, err = run(capsys, "create-index", "pos", "--type", "FTS", "--home", home)
    assert code == 2 and "not a text column" in err
    code, _, err = run(capsys, "create-index", "embedding", "--type", "FANCY", "--home", home)
    assert code == 2 and "one of BTREE" in err
    code, _, err = run(capsys, "create-index", "gene_symbol", "--type", "IVF_PQ", "--home", home)
    assert code == 2 and "not a vector column" in err
