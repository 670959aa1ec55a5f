"""The project's instance settings merged into an operator's dagster.yaml: gaps filled, the operator's
values kept, the project's own earlier values updated; and DAGSTER_HOME honoured when an operator sets it."""

from __future__ import annotations

import yaml

from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.instance_settings import (
    INSTALLED_RECORD,
    INSTANCE_SETTINGS,
    install,
    merged,
)
from vcf_pipeline.lib.settings import EXPORTED_DAGSTER_HOME, Settings

PROJECT = yaml.safe_load(INSTANCE_SETTINGS.read_text())


def test_the_merge_fills_gaps_keeps_the_operators_values_and_follows_the_projects_own():
    project = {"a": 1, "pools": {"limit": 1, "granularity": "op"}, "new": "x"}
    previous = {"a": 0, "pools": {"limit": 1, "granularity": "run"}, "gone": True}
    current = {"a": 0, "pools": {"limit": 3, "granularity": "run"}, "gone": True, "storage": {"postgres": {"db": "d"}}}
    assert merged(project, current, previous) == {
        "a": 1,  # the project's old value, never changed by the operator: follows the project
        "pools": {"limit": 3, "granularity": "op"},  # the operator's limit stays
        "storage": {"postgres": {"db": "d"}},  # the operator's own key
        "new": "x",  # a gap
    }  # `gone`: the project set it once and dropped it, the operator never touched it
    assert merged(project, current, None)["a"] == 0  # no record of what the project installed: the file's value is the operator's


def test_install_writes_the_shipped_file_then_merges_into_an_operators(tmp_path):
    assert install(tmp_path) and (tmp_path / "dagster.yaml").read_text() == INSTANCE_SETTINGS.read_text()
    assert not install(tmp_path)  # unchanged
    postgres = {"storage": {"postgres": {"postgres_db": {"hostname": "127.0.0.1", "username": "vcf", "password": {"env": "PGPASSWORD"},
                                                         "db_name": "dagster", "port": 5432, "scheme": "postgresql+psycopg2"}}},
                "concurrency": {"runs": {"max_concurrent_runs": 8}}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(postgres))
    assert install(tmp_path)
    written = yaml.safe_load((tmp_path / "dagster.yaml").read_text())
    assert written["storage"] == postgres["storage"] and written["concurrency"]["runs"]["max_concurrent_runs"] == 8
    assert written["concurrency"]["pools"] == PROJECT["concurrency"]["pools"] and written["run_launcher"] == PROJECT["run_launcher"]
    assert (tmp_path / INSTALLED_RECORD).read_text() == INSTANCE_SETTINGS.read_text()
    assert not install(tmp_path)


def test_an_operators_dagster_home_is_used_and_a_homes_own_export_is_not(tmp_path, monkeypatch):
    operators = tmp_path / "shared-instance"
    monkeypatch.setenv("DAGSTER_HOME", str(operators))
    monkeypatch.delenv(EXPORTED_DAGSTER_HOME, raising=False)
    assert Settings.load(tmp_path / "a").dagster_home == operators
    assert prepare_home(tmp_path / "a") == operators and (operators / "dagster.yaml").exists()
    # prepare_home exported it for home a; home b (another test, another command) keeps its own.
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "a" / "dagster_home"))
    monkeypatch.setenv(EXPORTED_DAGSTER_HOME, str(tmp_path / "a" / "dagster_home"))
    assert Settings.load(tmp_path / "b").dagster_home == tmp_path / "b" / "dagster_home"
