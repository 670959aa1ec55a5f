"""Past one machine by configuration only (docs/deploy.md): a Dagster instance on a real Postgres,
LanceDB, the warehouse and a watched source on a real S3 server (SeaweedFS), and two homes with the
same configuration file standing for two machines, each with its own DAGSTER_HOME folder holding the
same operator's dagster.yaml.

Machine A runs the daemon (and so the sensor and the run workers) and owns the graph. A VCF put into
the bucket is ingested with no command; machine B finds its variants with `status`, `search` and
`filter`, and its graph with `graph` (from the latest snapshot, which `backup --submit` on B queues
for A's daemon); deleting the object retracts the file. Nothing in these tests reaches the code
otherwise than a user's configuration does.
"""

from __future__ import annotations

import json
import secrets

import dagster as dg
import pysam
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
from vcf_pipeline.lib.backup.s3_client import s3_client
from vcf_pipeline.lib.backup.snapshots import SnapshotError
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.graph_owner import GraphElsewhere
from vcf_pipeline.lib.system.process_groups import stop_groups
from vcf_pipeline_tests.conftest import SAMPLES, expected_from_pysam
from vcf_pipeline_tests.deployment import BUCKET, Deployment
from vcf_pipeline_tests.postgres import running_postgres

TRIO = SAMPLES / "family_trio.vcf"
OBJECT = "drop/batch-7/family_trio.vcf"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    s3 = SeaweedServer(root / "s3", "lab" + secrets.token_hex(4), secrets.token_hex(16), s3_port=0).start()
    try:
        with running_postgres() as postgres:
            postgres.execute("postgres", "CREATE DATABASE dagster")
            found = Deployment(root, postgres, s3)
            a = found.machine("machine-a")
            s3_client(Settings.load(a)).create_bucket(Bucket=BUCKET)
            found.start_daemon(a)
            try:
                yield found
            finally:
                stop_groups([found.daemon], grace_s=20)
    finally:
        s3.stop()


def run_json(capsys, *argv) -> dict:
    assert main([*map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def carriers_in_pysam(pos: int, ref: str, alt: str) -> set[str]:
    with pysam.VariantFile(str(TRIO)) as vcf:
        for record in vcf:
            if (record.pos, record.ref, record.alts[0]) == (pos, ref, alt):
                return {name for name, call in record.samples.items() if any(a and a > 0 for a in call["GT"])}
    raise AssertionError(f"{pos} {ref}>{alt} is not in {TRIO}")


def test_a_file_put_into_the_bucket_is_ingested_and_another_machine_finds_it(deployment, capsys):
    a, b = deployment.root / "machine-a", deployment.machine("machine-b")
    client = s3_client(Settings.load(a))
    client.put_object(Bucket=BUCKET, Key=OBJECT, Body=TRIO.read_bytes())

    [run] = deployment.wait_for(lambda: deployment.finished_runs(a, "ingest_vcf", 1), "the sensor's ingest run", a)
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    assert run.tags["dagster/partition"] == "drop/batch-7/family_trio.vcf"
    # The warehouse is in the bucket, committed; nothing went to either home's local warehouse.
    marker = json.loads(client.get_object(Bucket=BUCKET, Key="warehouse/drop%2Fbatch-7%2Ffamily_trio.vcf/commit.json")["Body"].read())
    assert marker["source"]["uri"] == f"s3://{BUCKET}/{OBJECT}" and marker["source"]["content_id"].startswith("etag:")
    assert {"variants", "calls", "embeddings", "stored_rows", "refreshed_rows"} <= set(marker["files"])
    assert not any((a / "warehouse").glob("*")) and not (b / "warehouse").exists()

    expected = len(expected_from_pysam(TRIO)[0])
    status = run_json(capsys, "status", "--home", b)
    assert status["lancedb"]["variants"]["rows"] == expected
    rows = run_json(capsys, "filter", "pos > 0", "--limit", "1000", "--select", "variant_id,pos,ref,alt,gene_symbol", "--home", b)["rows"]
    assert len(rows) == expected
    hits = run_json(capsys, "search", "SCN1A stop gained", "--limit", "3", "--home", b)["results"]
    assert hits and hits[0]["gene_symbol"] == "SCN1A"

    # B's graph: the owner (A) is elsewhere, so B reads the latest snapshot; B queues one for A's daemon.
    with pytest.raises(SnapshotError, match="no complete snapshot"):
        Settings.load(b).graph_store()
    assert main(["backup", "--submit", "--home", str(b)]) == 0
    assert "backup queued" in capsys.readouterr().out
    deployment.wait_for(lambda: deployment.finished_runs(a, "__ASSET_JOB", 1), "the backup run", a)
    for row in rows[:5]:
        answer = run_json(capsys, "graph", "samples-with-variant", row["variant_id"], "--home", b)
        assert {r["sample"] for r in answer["rows"]} == carriers_in_pysam(row["pos"], row["ref"], row["alt"])
    with pytest.raises(GraphElsewhere, match="machine-a"):  # B never starts a second graph
        Settings.load(b).graph_store().retract_partition("drop/batch-7/family_trio.vcf")


def test_deleting_the_object_retracts_the_file_everywhere(deployment, capsys):
    a, b = deployment.root / "machine-a", deployment.root / "machine-b"
    s3_client(Settings.load(a)).delete_object(Bucket=BUCKET, Key=OBJECT)
    [run] = deployment.wait_for(lambda: deployment.finished_runs(a, "retract_vcf_files", 1), "the retraction run", a)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run_json(capsys, "filter", "pos > 0", "--limit", "10", "--home", b)["rows"] == []
    listed = s3_client(Settings.load(a)).list_objects_v2(Bucket=BUCKET, Prefix="warehouse/drop%2F")
    assert listed["KeyCount"] == 0
