"""Start-up of `vcf-pipeline` commands: wall seconds of a new process (median of 5), beside the
start-up of `bcftools view -h` on the same machine as the reference (pysam's bundled bcftools, run
from a new Python, where no `bcftools` binary is installed).

Uses the relevance benchmark's home (the shared annotated files; built if missing)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {"--help": 0.5, "tables": 1.5, "filter": 1.5, "graph": 1.5, "search (lookup)": 2.5, "search (hybrid, model)": 2.5}


def _seconds(argv: list[str], runs: int) -> list[float]:
    times = []
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return times


def run(home: Path, runs: int = 5) -> dict:
    vcf = HERE.parent.parent / "shared" / "data" / "vcf" / "bcftools__test__split-vep.vcf"
    if shutil.which("bcftools"):
        reference, reference_name = ["bcftools", "view", "-h", str(vcf)], "bcftools view -h"
    else:
        reference = [sys.executable, "-c", f"import pysam.bcftools; pysam.bcftools.view('-h', {str(vcf)!r})"]
        reference_name = "pysam.bcftools.view('-h') from a new Python"
    command = [str(Path(sys.executable).with_name("vcf-pipeline"))]
    at = ["--home", str(home)]
    commands = {
        "--help": ["--help"],
        "tables": ["tables", *at],
        "filter": ["filter", "impact = 'HIGH'", "--limit", "20", *at],
        "graph": ["graph", "variants-in-gene", "SAMD11", *at],
        "search (lookup)": ["search", "rs61464428", *at],
        "search (hybrid, model)": ["search", "SAMD11 missense variant", *at],
    }
    ref = _seconds(reference, runs)
    out = {"reference": reference_name, "reference_median_s": statistics.median(ref), "runs": runs, "commands": {}}
    for name, argv in commands.items():
        times = _seconds([*command, *argv], runs)
        median = statistics.median(times)
        out["commands"][name] = {"median_s": median, "runs_s": times, "target_s": TARGETS[name], "met": median < TARGETS[name],
                                 "vs_reference": median / out["reference_median_s"]}  # fmt: skip
    return out


def print_table(result: dict) -> None:
    print(f"reference: {result['reference']}, median {result['reference_median_s']:.2f} s (of {result['runs']} new processes)")
    for name, figures in result["commands"].items():
        verdict = "met" if figures["met"] else "MISSED"
        print(f"  {name:<24} {figures['median_s']:.2f} s  ({figures['vs_reference']:.1f}x reference)  target < {figures['target_s']} s  {verdict}")


if __name__ == "__main__":
    import json
    from datetime import datetime, timezone

    sys.path.insert(0, str(HERE))
    import search_relevance

    home = HERE / "work" / "home_relevance"
    search_relevance.build_home(home)
    result = run(home)
    print_table(result)
    path = HERE / "results" / f"startup-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
