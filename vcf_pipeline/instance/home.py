"""The persistent Dagster instance inside a pipeline home (`<home>/dagster_home`), with the
project's instance settings (pools, run queue, run monitoring), which ship with the package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vcf_pipeline.lib.settings import Settings

INSTANCE_SETTINGS = Path(__file__).resolve().parent / "dagster.yaml"
HOME_FOLDERS = ("incoming", "warehouse", "lancedb", "kuzu", "dagster_home")


def prepare_home(home: Path | Settings) -> Path:
    """Create the home's folders, install the instance settings, and point this process's environment
    (VCF_PIPELINE_HOME, DAGSTER_HOME) at it. Returns DAGSTER_HOME.

    The home holds genotypes: it is made owner-only (0700), and so is every file this process
    creates from now on (umask 077)."""
    home = home.home if isinstance(home, Settings) else Path(home)
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for name in HOME_FOLDERS:
        (home / name).mkdir(parents=True, exist_ok=True, mode=0o700)
    dagster_home = home / "dagster_home"
    install_instance_settings(dagster_home)
    os.environ["VCF_PIPELINE_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def install_instance_settings(dagster_home: Path) -> None:
    """Copy the project's dagster.yaml into `dagster_home` (replacing an older copy of it)."""
    installed = dagster_home / "dagster.yaml"
    dagster_home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not installed.exists() or installed.read_bytes() != INSTANCE_SETTINGS.read_bytes():
        shutil.copyfile(INSTANCE_SETTINGS, installed)


def last_materialized(settings: Settings, asset: str) -> str | None:
    """When `asset` was last materialised on the home's instance (local time, ISO), or None."""
    from datetime import datetime

    import dagster as dg

    prepare_home(settings)
    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
    return datetime.fromtimestamp(records[0].timestamp).astimezone().isoformat(timespec="seconds") if records else None
