"""A deployment of several "machines" on one host, for the deployment test and the two-machine
simulation (docs/two_machines.py): a Dagster instance on a real Postgres, LanceDB, the warehouse and
a watched source on a real S3 server (SeaweedFS), and one home per machine with the same
configuration file and its own DAGSTER_HOME folder holding the same operator's dagster.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.system.process_groups import start_group
from vcf_pipeline_tests.files import write_settings

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
BUCKET = "lab"


class WaitedTooLong(TimeoutError):
    pass


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
        with self.instance(home):  # creates the schema once, before the daemon and its processes race to
            pass
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("VCF_PIPELINE_")},
               "VCF_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(settings.dagster_home), "HF_HUB_OFFLINE": "1"}
        log = open(home / "daemon.log", "ab")
        self.daemon = start_group([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                                  cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def instance(self, home: Path) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(Settings.load(home).dagster_home))

    def wait_for(self, predicate, what: str, home: Path, wait_s: float = 300):
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(1)
        log = (home / "daemon.log").read_text(errors="replace").splitlines()[-40:] if (home / "daemon.log").exists() else []
        raise WaitedTooLong(f"timed out waiting for {what}\n" + "\n".join(log))

    def finished_runs(self, home: Path, job: str, count: int):
        with self.instance(home) as instance:
            runs = [r for r in instance.get_runs() if r.job_name == job]
        done = [r for r in runs if r.is_finished]
        return done if len(done) >= count and len(done) == len(runs) else None
