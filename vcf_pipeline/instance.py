"""The pipeline home on disk and the persistent Dagster instance inside it (`<home>/dagster_home`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
HOME_FOLDERS = ("incoming", "warehouse", "lancedb", "kuzu", "dagster_home")


def resolve_home(home: str | os.PathLike | None) -> Path:
    """`--home`, else `VCF_PIPELINE_HOME`, else `./data`."""
    return Path(home or os.environ.get("VCF_PIPELINE_HOME") or "data").resolve()


def prepare_home(home: Path) -> Path:
    """Create the home's folders, install the instance config, and point this process's environment
    (VCF_PIPELINE_HOME, DAGSTER_HOME) at it. Returns DAGSTER_HOME.

    The home holds genotypes: it is made owner-only (0700), and so is every file this process
    creates from now on (umask 077)."""
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    for name in HOME_FOLDERS:
        (home / name).mkdir(parents=True, exist_ok=True, mode=0o700)
    dagster_home = home / "dagster_home"
    installed = dagster_home / "dagster.yaml"
    if PROJECT_DAGSTER_YAML.exists() and (
        not installed.exists() or installed.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(PROJECT_DAGSTER_YAML, installed)
    os.environ["VCF_PIPELINE_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home
