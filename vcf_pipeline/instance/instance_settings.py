"""The project's instance settings (pools, run queue, run monitoring, the run launcher), merged into a
DAGSTER_HOME's `dagster.yaml` without overwriting what its operator wrote.

A three-way merge, key by key: a key the file lacks gets the project's value; a key whose value is
still what the project installed last time (kept beside it in `.vcf-pipeline-instance.yaml`) follows
the project's new value; any other value is the operator's and stays, as do keys the project never
sets (`storage: postgres:`, `run_coordinator`, ...). A file that is a verbatim copy from before the
record existed (it starts with the project's own first line) is the project's to replace.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

INSTANCE_SETTINGS = Path(__file__).resolve().parent / "dagster.yaml"
INSTALLED_RECORD = ".vcf-pipeline-instance.yaml"
_FIRST_LINE = "# Instance settings, shipped with the package."


def merged(project: dict, current: dict, previous: dict | None) -> dict:
    """`current` with the project's settings merged in (see the module's docstring)."""
    previous = previous or {}
    out = dict(current)
    for key, value in project.items():
        was = previous.get(key)
        if key not in current:
            out[key] = value
        elif isinstance(value, dict) and isinstance(current[key], dict):
            out[key] = merged(value, current[key], was if isinstance(was, dict) else None)
        elif key in previous and current[key] == was:
            out[key] = value
    for key, was in previous.items():
        if key not in project and key in current and current[key] == was:
            del out[key]  # the project set it once and no longer does; the operator never changed it
    return out


def install(dagster_home: Path) -> bool:
    """Merge the project's settings into `<dagster_home>/dagster.yaml`; True if the file changed."""
    dagster_home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path, record = dagster_home / "dagster.yaml", dagster_home / INSTALLED_RECORD
    project_text = INSTANCE_SETTINGS.read_text()
    project = yaml.safe_load(project_text)
    text = path.read_text() if path.exists() else ""
    current = (yaml.safe_load(text) or {}) if text.strip() else None
    previous = yaml.safe_load(record.read_text()) if record.exists() else None
    if current is None or current == previous or (previous is None and text.startswith(_FIRST_LINE)):
        # No file, or the project's own copy: the project's file as it ships, comments and all.
        changed = text != project_text
        if changed:
            _write(path, project_text)
    else:
        result = merged(project, current, previous)
        changed = result != current
        if changed:
            _write(path, "# Merged with the vcf_pipeline instance settings (vcf_pipeline/instance/dagster.yaml); your own values are kept.\n"
                   + yaml.safe_dump(result, sort_keys=False))
    if not record.exists() or record.read_text() != project_text:
        _write(record, project_text)
    return changed


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)  # a Dagster process reading it never sees half a file
