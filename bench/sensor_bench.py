"""The folder sensor on a folder of many files, evaluated as the daemon does (build_sensor_context
on a real instance, the cursor carried between ticks): the first ticks register the files in pages,
then an unchanged tick should cost one listing."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
from bench_files import watch_folder

from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.defs.watch.sensors import vcf_folder_sensor


def run(home: Path, files: int) -> dict:
    watch_folder(home / "incoming", files)
    (home / "vcf-pipeline.yaml").write_text("watch:\n  settle_s: 0\n")  # files count at once
    resources = {"settings": PipelineSettings(home=str(home))}
    ticks = []
    with dg.instance_for_test() as instance:
        cursor = None
        while True:
            started = time.perf_counter()
            result = vcf_folder_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            seconds = time.perf_counter() - started
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            cursor = result.cursor
            ticks.append({"seconds": seconds, "runs": len(result.run_requests or [])})
            if not result.run_requests or len(ticks) > 100:
                break
        unchanged = []
        for _ in range(3):
            started = time.perf_counter()
            result = vcf_folder_sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
            unchanged.append(time.perf_counter() - started)
            assert not result.run_requests, "an unchanged folder requested runs"
    return {"files": files, "registering_ticks": ticks, "unchanged_tick_seconds": sorted(unchanged)[1],
            "unchanged_ticks": unchanged, "cursor_bytes": len(cursor or "")}
