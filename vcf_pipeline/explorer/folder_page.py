"""The watched-folders page: what the folder sensor sees in each source now (ingested, settling,
waiting for the next look), the symlinks it refuses, and its last tick; then the folders `ingest`
registered, which the sensor does not watch."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class FolderView:
    sources: list[dict] = field(default_factory=list)  # name, folder, files: [{path, key, state, size}], refused
    last_tick: dict | None = None
    note: str = ""


def folder_view(settings) -> FolderView:
    from vcf_pipeline.lib.watch.object_source import SourceUnavailable
    from vcf_pipeline.lib.watch.partition_keys import encode_key

    view = FolderView()
    sources = settings.source_folders()
    known, view.last_tick, view.note = _dagster_state(settings)
    settle_s, now = settings["watch.settle_s"], time.time()
    for name in [*sources.watched, *(n for n in sources.folders if n not in sources.watched)]:
        folder, watched = sources.folders[name], name in sources.watched
        entry = {"name": name, "folder": str(folder), "files": [], "refused": [], "watched": watched}
        try:
            listing = sources.listing(name)
        except SourceUnavailable as exc:
            entry["missing"] = str(exc)
        else:
            entry["refused"] = listing.refused
            for relative, stat in sorted(listing.files.items()):
                key = encode_key(name, relative)
                if key in known:
                    state = "ingested"
                elif not watched:
                    state = "not ingested (registered by vcf-pipeline ingest, not watched)"
                else:
                    state = "settling" if now - stat.changed_ns / 1e9 < settle_s else "waiting for the sensor"
                entry["files"].append({"path": relative, "key": key, "state": state, "size": stat.size})
        view.sources.append(entry)
    return view


def _dagster_state(settings) -> tuple[set[str], dict | None, str]:
    """(partition keys Dagster knows, the sensor's last tick, a note when the instance is unreadable)."""
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            known = set(instance.get_dynamic_partitions("vcf_files"))
            tick = None
            for state in instance.all_instigator_state():
                if state.name == "vcf_folder_sensor":
                    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
                    if ticks:
                        t = ticks[0]
                        tick = {"status": t.status.value, "at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.timestamp)),
                                "runs": len(t.run_ids), "skip_reason": t.skip_reason or "", "error": str(t.error.message)[:300] if t.error else ""}  # fmt: skip
            return known, tick, ""
    except Exception as exc:  # the page still lists the folders
        return set(), None, f"Dagster instance not readable ({type(exc).__name__}: {str(exc)[:200]})"
