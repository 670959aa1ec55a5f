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
import os
import secrets
import subprocess
import time
from pathlib import Path

import dagster as dg
import pysam
import pytest
import yaml

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
from vcf_pipeline.lib.backup.s3_client import s3_client
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.graph_owner import GraphElsewhere
from vcf_pipeline.lib.system.process_groups import start_group, stop_groups
from vcf_pipeline_tests.conftest import REPO, SAMPLES, expected_from_pysam
from vcf_pipeline_tests.files import write_settings
from vcf_pipeline_tests.postgres import running_postgres
from vcf_pipeline_tests.test_daemon import BIN

BUCKET = "lab"
TRIO = SAMPLES / "family_trio.vcf"
OBJECT = "drop/batch-7/family_trio.vcf"
WAIT_S = 300


class Deployment:
    def __init__(self, root: Path, postgres, s3: SeaweedServer):
        self.root, self.postgres, self.s3 = root, postgres, s3
        self.daemon = None

    def machine(self, name: str) -> Path:
        """A home and its own DAGSTER_HOME folder, configured like every other machine's."""
        home, instance = self.root / name, self.root / f"{name}-dagster"
        instance.mkdir(parents=True, exist_ok=True)
        storage = {"postgres": {"postgres_db": {"hostname": "127.0.0.1", "port": self.postgres.port, "username": self.postgres.user,
                                                "password": "unused-with-trust", "db_name": "dagster", "scheme": "postgresql+psycopg2"}}}
        (instance / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage}))
        home.mkdir(parents=True, exist_ok=True)
        (home / "s3-credentials").write_text(f"[lab]\naws_access_key_id = {self.s3.access_key}\naws_secret_access_key = {self.s3.secret_key}\n")
        write_settings(home, {
            "dagster_home": str(instance),
            "lancedb_uri": f"s3://{BUCKET}/lancedb",
            "warehouse_uri": f"s3://{BUCKET}/warehouse",
            "sources": {"drop": f"s3://{BUCKET}/drop"},
            "s3": {"endpoint": self.s3.endpoint, "bucket": BUCKET, "prefix": "snapshots", "profile": "lab", "credentials_file": "s3-credentials"},
            "watch": {"sensor_interval_s": 1, "settle_s": 1},
        })
        return home

    def start_daemon(self, home: Path) -> None:
        settings = Settings.load(home)
        prepare_home(settings)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("VCF_PIPELINE_")},
               "VCF_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(settings.dagster_home), "HF_HUB_OFFLINE": "1"}
        log = open(home / "daemon.log", "ab")
        self.daemon = start_group([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                  cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def instance(self, home: Path) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(Settings.load(home).dagster_home))

    def wait_for(self, predicate, what: str, home: Path):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(1)
        log = (home / "daemon.log").read_text(errors="replace").splitlines()[-40:] if (home / "daemon.log").exists() else []
        pytest.fail(f"timed out waiting for {what}\n" + "\n".join(log))

    def finished_runs(self, home: Path, job: str, count: int):
        with self.instance(home) as instance:
            runs = [r for r in instance.get_runs() if r.job_name == job]
        done = [r for r in runs if r.is_finished]
        return done if len(done) >= count and len(done) == len(runs) else None


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
    with pytest.raises(Exception, match="no complete snapshot"):
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
