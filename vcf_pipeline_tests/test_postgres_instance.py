"""A Dagster instance on a real Postgres, by configuration only: an operator's DAGSTER_HOME whose
dagster.yaml sets `storage: postgres:` keeps it, gets the project's pools and run queue merged in,
and every run, materialisation and pool slot of an ingest lands in Postgres."""

from __future__ import annotations

import yaml

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline_tests.conftest import SAMPLES
from vcf_pipeline_tests.files import write_settings
from vcf_pipeline_tests.postgres import running_postgres


def test_an_ingest_runs_on_an_instance_stored_in_postgres(tmp_path, capsys):
    with running_postgres() as postgres:
        postgres.execute("postgres", "CREATE DATABASE dagster")
        instance = tmp_path / "instance"  # the operator's DAGSTER_HOME, apart from the home
        instance.mkdir()
        storage = {"postgres": {"postgres_db": {"hostname": "127.0.0.1", "port": postgres.port, "username": postgres.user,
                                                "password": "unused-with-trust", "db_name": "dagster", "scheme": "postgresql+psycopg2"}}}
        (instance / "dagster.yaml").write_text(yaml.safe_dump({"storage": storage}))
        home = tmp_path / "home"
        write_settings(home, {"dagster_home": str(instance)})

        [summary] = ingest_paths(home, [SAMPLES / "family_trio.vcf"])
        assert summary.ok, summary.error
        written = yaml.safe_load((instance / "dagster.yaml").read_text())
        assert written["storage"] == storage and written["concurrency"]["pools"]["default_limit"] == 1
        assert not (home / "dagster_home").exists()  # nothing went to a SQLite instance in the home

        runs = postgres.execute("dagster", "SELECT status FROM runs")
        assert ("SUCCESS",) in runs
        keys = {row[0] for row in postgres.execute("dagster", "SELECT asset_key FROM asset_keys")}
        assert any("lancedb_variants" in key for key in keys) and any("kuzu_graph" in key for key in keys)
        pools = {row[0]: row[1] for row in postgres.execute("dagster", "SELECT concurrency_key, count(*) FROM concurrency_slots GROUP BY concurrency_key")}
        assert pools == {"lancedb": 1, "kuzu": 1}  # the project's single-writer pools, on Postgres

        assert main(["status", "--json", "--home", str(home)]) == 0
        assert '"last_ingest": null' not in capsys.readouterr().out  # read back from Postgres
