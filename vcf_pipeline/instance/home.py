"""The persistent Dagster instance of a pipeline home (`<home>/dagster_home`, or DAGSTER_HOME where
the operator set it), with the project's instance settings (pools, run queue, run monitoring), which
ship with the package and are merged into the instance's own `dagster.yaml`."""

from __future__ import annotations

import os
from pathlib import Path

from vcf_pipeline.instance.instance_settings import install
from vcf_pipeline.lib.settings import EXPORTED_DAGSTER_HOME, Settings

HOME_FOLDERS = ("incoming", "warehouse", "lancedb", "kuzu")


def prepare_home(home: Path | Settings) -> Path:
    """Create the home's folders, install the instance settings, and point this process's environment
    (VCF_PIPELINE_HOME, DAGSTER_HOME) at it. Returns DAGSTER_HOME.

    The home holds genotypes: it is made owner-only (0700), and so is every file this process
    creates from now on (umask 077)."""
    settings = home if isinstance(home, Settings) else Settings.load(home)
    home = settings.home
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for name in HOME_FOLDERS:
        (home / name).mkdir(parents=True, exist_ok=True, mode=0o700)
    dagster_home = settings.dagster_home
    install(dagster_home)
    os.environ["VCF_PIPELINE_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = os.environ[EXPORTED_DAGSTER_HOME] = str(dagster_home)
    return dagster_home


def last_materialized(settings: Settings, asset: str) -> str | None:
    """When `asset` was last materialised on the home's instance (local time, ISO), or None."""
    from datetime import datetime

    import dagster as dg

    prepare_home(settings)
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return datetime.fromtimestamp(records[0].timestamp).astimezone().isoformat(timespec="seconds") if records else None
