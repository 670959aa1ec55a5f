"""Curation values and writes: what an edit may set, and how edits live beside ingests."""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.definitions import defs
from vcf_pipeline.defs.ingest.retraction import retraction_run_config
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.stores.curation import CurationError, check_fields
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, FILE_VARIANTS, VARIANTS
from vcf_pipeline.lib.system.process_groups import start_group
from vcf_pipeline_tests.files import write_raw_calls
from vcf_pipeline_tests.stores import StoredView


@pytest.mark.parametrize(
    "fields,problem",
    [
        ({"allele_frequency": math.nan}, "finite number from 0 to 1"),
        ({"allele_frequency": math.inf}, "finite number from 0 to 1"),
        ({"allele_frequency": -5}, "finite number from 0 to 1"),
        ({"allele_frequency": 1.5}, "finite number from 0 to 1"),
        ({"qual": -1e308}, "finite number from 0"),
        ({"qual": -math.inf}, "finite number from 0"),
        ({"gene_symbol": "BRCA1\x00"}, "control character"),
        ({"conditions": ["ok", "bad\nline"]}, "control character"),
        ({"hgvs_c": "c." + "A" * 10_001}, "at most 10000"),
        ({"pos": 5}, "cannot be set"),
        ({"gene_symbol": 5}, "takes string"),
    ],
)
def test_values_out_of_range_or_with_control_characters_are_refused(fields, problem):
    with pytest.raises(CurationError, match=problem):
        check_fields(fields)


def test_ordinary_values_pass():
    fields = {"allele_frequency": 0.0, "qual": 99.5, "gene_symbol": "BRCA1", "conditions": ["Breast cancer"], "rsid": None}
    assert check_fields(dict(fields)) == fields


# --- curation beside ingests, readers and failures (real stores, real commands) ------------------

CLI = Path(sys.executable).parent / "vcf-pipeline"
CURATED = {"gene_symbol": "CURATED1", "clinical_significance": "Pathogenic"}


def _audit(home: Path) -> list[dict]:
    return [json.loads(line) for line in (home / "audit.log").read_text().splitlines()] if (home / "audit.log").exists() else []


def _graph_row(home: Path, variant_id: str) -> dict | None:
    rows = GraphStore(home / "kuzu" / "graph.kuzu").query(
        "MATCH (v:Variant {variant_id: $id}) OPTIONAL MATCH (v)-[:IN_GENE]->(g:Gene) RETURN v.clinical_significance AS sig, g.symbol AS gene",
        {"id": variant_id},
    ).to_pylist()
    return rows[0] if rows else None


def _assert_curation_holds(home: Path, edited: list[str], deleted: list[str]) -> None:
    store = VariantStore(home / "lancedb")
    rows = {r["variant_id"]: r for r in store.read(VARIANTS, columns=["variant_id", "gene_symbol", "clinical_significance"]).to_pylist()}
    for variant_id in edited:
        assert {k: rows[variant_id][k] for k in CURATED} == CURATED, variant_id
        assert _graph_row(home, variant_id) == {"sig": "Pathogenic", "gene": "CURATED1"}, variant_id
    for table in (VARIANTS, CALLS, FILE_VARIANTS):
        left = set(store.read(table, columns=["variant_id"])["variant_id"].to_pylist())
        assert not left & set(deleted), table
    assert all(_graph_row(home, v) is None for v in deleted)
    StoredView(home).assert_consistent()


@pytest.fixture()
def ingested(tmp_path):
    """A home holding one 30,000-record file with two samples, and that file."""
    home = tmp_path / "home"
    (tmp_path / "src").mkdir()
    vcf = write_raw_calls(tmp_path / "src" / "calls.vcf", 30_000, seed=5, samples=("mother", "child"))
    [summary] = ingest_paths(home, [vcf])
    assert summary.ok, summary.error
    ids = sorted(VariantStore(home / "lancedb").read(VARIANTS, columns=["variant_id"])["variant_id"].to_pylist())
    return home, vcf, summary.partition_key, ids


def test_updates_and_deletes_during_an_ingest_of_the_same_variants_hold_and_both_stores_agree(ingested):
    home, vcf, key, ids = ingested
    edited, deleted = ids[100:115], ids[200:215]
    vcf.write_text(vcf.read_text().replace("\tPASS\t", "\tLowQual\t"))  # same variants, every row changes
    ingest = start_group([str(CLI), "ingest", "--home", str(home), str(vcf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    during = 0
    for variant_id, doomed in zip(edited, deleted):
        assert main(["update-variant", variant_id, "--set", json.dumps(CURATED), "--home", str(home)]) == 0
        assert main(["delete-variants", f"variant_id = '{doomed}'", "--yes", "--home", str(home)]) == 0
        during += ingest.poll() is None
    output = ingest.communicate(timeout=300)[0].decode()
    assert ingest.returncode == 0, output
    assert during >= 3, "the curation commands should overlap the ingest run"
    _assert_curation_holds(home, edited, deleted)
    assert [(e["command"], e["outcome"]) for e in _audit(home)] == [("update-variant", "ok"), ("delete-variants", "ok")] * 15

    # Re-ingesting the file (changed again) and retracting it then bringing it back keep every curation.
    vcf.write_text(vcf.read_text().replace("\tLowQual\t", "\tPASS\t"))
    assert ingest_paths(home, [vcf])[0].ok
    _assert_curation_holds(home, edited, deleted)
    with dg.DagsterInstance.get() as instance:
        instance.delete_dynamic_partition("vcf_files", key)
        assert defs.resolve_job_def("retract_vcf_files").execute_in_process(run_config=retraction_run_config([key]), instance=instance).success
    assert VariantStore(home / "lancedb").count(VARIANTS) == 0
    assert ingest_paths(home, [vcf])[0].ok
    _assert_curation_holds(home, edited, deleted)


def test_an_update_while_a_graph_reader_is_open_waits_for_it_and_lands_in_both_stores(ingested):
    home, _, _, ids = ingested
    reader = subprocess.Popen([sys.executable, "-c", (
        "import kuzu, sys, time; db = kuzu.Database(sys.argv[1], read_only=True); c = kuzu.Connection(db); "
        "c.execute('MATCH (v:Variant) RETURN count(*)'); print('open', flush=True); time.sleep(6)"
    ), str(home / "kuzu" / "graph.kuzu")], stdout=subprocess.PIPE)
    assert reader.stdout.readline().strip() == b"open"
    started = time.monotonic()
    assert main(["update-variant", ids[7], "--set", json.dumps(CURATED), "--home", str(home)]) == 0
    assert reader.poll() is not None or time.monotonic() - started >= 4  # it waited for the reader to close
    reader.wait()
    _assert_curation_holds(home, [ids[7]], [])
    assert _audit(home)[-1]["outcome"] == "ok"


def test_a_write_that_fails_half_way_leaves_both_stores_as_they_were_and_is_audited(ingested, capsys):
    home, _, _, ids = ingested
    store = VariantStore(home / "lancedb")
    # A `curations` table of another shape: the edit fails after its LanceDB row is written.
    store.db.create_table("curations", data=[{"variant_id": "x", "note": 1}])
    before = store.read(VARIANTS, where=f"variant_id = '{ids[3]}'").to_pylist()
    graph_before = _graph_row(home, ids[3])
    assert main(["update-variant", ids[3], "--set", json.dumps(CURATED), "--home", str(home)]) == 1
    assert "failed" in capsys.readouterr().err
    assert store.read(VARIANTS, where=f"variant_id = '{ids[3]}'").to_pylist() == before
    assert _graph_row(home, ids[3]) == graph_before
    assert main(["delete-variants", f"variant_id = '{ids[4]}'", "--yes", "--home", str(home)]) == 1
    assert store.count(VARIANTS, f"variant_id = '{ids[4]}'") == 1 and _graph_row(home, ids[4]) is not None
    StoredView(home).assert_consistent()
    assert [e["outcome"].split(":")[0] for e in _audit(home)] == ["failed", "failed"]


def test_five_hundred_conditions_land_and_can_be_replaced(ingested):
    home, _, _, ids = ingested
    names = [f"Condition number {i}" for i in range(500)]
    assert main(["update-variant", ids[9], "--set", json.dumps({"conditions": names}), "--home", str(home)]) == 0
    graph = GraphStore(home / "kuzu" / "graph.kuzu")
    assert graph.count("(v:Variant {variant_id: $id})-[:ASSOCIATED_WITH]->()", {"id": ids[9]}) == 500
    assert main(["update-variant", ids[9], "--set", json.dumps({"conditions": names[:2]}), "--home", str(home)]) == 0
    assert graph.count("(c:Condition)") == 2
