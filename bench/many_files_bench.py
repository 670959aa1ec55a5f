"""Many small files under the running daemon: one-record VCFs dropped into `incoming/` at once, timed
from the drop until every file's graph step is materialised. Grouped runs (the default,
`ingest.files_per_run`) on the full drop; for reference, in the same run, a run per file
(`files_per_run: 1`, what the pipeline did before) on a smaller drop, and the seconds per file of each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.run_files import files_of_run
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.system.process_groups import start_group, stop_groups

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def run(work: Path, files: int = 500, reference_files: int = 40, timeout_s: float = 1800) -> dict:
    grouped = drop(work / "home_many_grouped", files, None, timeout_s)
    single = drop(work / "home_many_single", reference_files, 1, timeout_s)
    return {
        "grouped": grouped,
        "one_run_per_file": single,
        "speedup_per_file": single["seconds_per_file"] / grouped["seconds_per_file"],
        "target_s": 300,
    }


def drop(home: Path, files: int, files_per_run: int | None, timeout_s: float) -> dict:
    home = home.resolve()  # the daemon runs from the repository
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    settings = {"watch": {"settle_s": 1, "sensor_interval_s": 1}}
    if files_per_run:
        settings["ingest"] = {"files_per_run": files_per_run}
    (home / "vcf-pipeline.yaml").write_text(yaml.safe_dump(settings))
    prepare_home(home)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VCF_PIPELINE_")},
           "VCF_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(Settings.load(home).dagster_home), "HF_HUB_OFFLINE": "1"}
    daemon = start_group([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env,
                         stdout=open(home / "daemon.log", "ab"), stderr=subprocess.STDOUT)
    try:
        with dg.DagsterInstance.from_config(str(Settings.load(home).dagster_home)) as instance:
            _wait(lambda: "SENSOR" in instance.get_daemon_heartbeats(), 300, "the daemon")
            time.sleep(5)  # the code location loaded, the sensor ticking
            staged = home / ".staging"
            staged.mkdir()
            for i in range(files):
                (staged / f"sample_{i:04d}.vcf").write_text(HEADER + f"chr1\t{1_000_000 + 37 * i}\t.\tA\tG\t50\tPASS\t.\n")
            started = time.monotonic()
            for path in sorted(staged.iterdir()):
                os.replace(path, home / "incoming" / path.name)
            expected = {f"incoming/sample_{i:04d}.vcf" for i in range(files)}
            _wait(lambda: expected <= set(instance.get_materialized_partitions(dg.AssetKey("kuzu_graph"))), timeout_s, "every file")
            seconds = time.monotonic() - started
            runs = [r for r in instance.get_runs() if r.job_name == "ingest_vcf"]
            return {
                "files": files, "files_per_run": files_per_run or Settings.load(home)["ingest.files_per_run"],
                "seconds": round(seconds, 1), "seconds_per_file": seconds / files, "runs": len(runs),
                "failed_runs": sum(r.status != dg.DagsterRunStatus.SUCCESS for r in runs),
                "files_per_run_seen": max((len(files_of_run(instance, r)) for r in runs), default=0),
            }
    finally:
        stop_groups([daemon], grace_s=20)


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(1)
