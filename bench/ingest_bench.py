"""End-to-end ingest through the `vcf-pipeline ingest` command (Dagster materialisation of the
four assets, in process): wall time and peak RSS of the whole command.

Rates are marginal: (wall time - the fixed cost of ingesting a header-only file) / variants."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The command reports its own peak RSS as it exits: the kernel's mark (VmHWM), and the marks it had
# before each step started it again to measure its own peak (`process_peak_mb`). getrusage would
# not do: Linux carries the RSS a process had before exec into ru_maxrss, i.e. this benchmark's own
# (it holds models).
_REPORT_PEAK = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    from vcf_pipeline.lib.system.memory import process_peak_mb\n"
    "    print('PEAK_RSS_MB', process_peak_mb(), file=sys.stderr)\n"
    "atexit.register(_peak)\n"
    "sys.argv[0] = 'vcf-pipeline'\n"
    "runpy.run_module('vcf_pipeline.cli.main', run_name='__main__')\n"
)
COMMAND = [sys.executable, "-c", _REPORT_PEAK, "ingest"]


def ingest(home: Path, path: Path, env: dict | None = None) -> dict:
    """Run one ingest command; wall seconds, the peak RSS of its process and of each step."""
    started = time.perf_counter()
    proc = subprocess.Popen([*COMMAND, "--home", str(home), str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    output = proc.stdout.read().decode(errors="replace")
    status = proc.wait()
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"ingest of {path} failed:\n{output[-3000:]}")
    peak = [float(line.split()[1]) for line in output.splitlines() if line.startswith("PEAK_RSS_MB")]
    lines = [line for line in output.strip().splitlines() if not line.startswith("PEAK_RSS_MB")]
    steps = [word.removeprefix("peak_mb=") for line in lines for word in line.split() if word.startswith("peak_mb=")]
    step_peaks = {step: float(mb) for step, mb in (part.split(":") for part in steps[-1].split(","))} if steps else {}
    return {"seconds": seconds, "peak_rss_mb": peak[-1], "step_peak_rss_mb": step_peaks, "output": lines[-2:]}


def fixed_cost(work: Path, header_only: Path, repeats: int = 3) -> dict:
    runs = []
    for i in range(repeats):
        home = work / f"home_fixed_{i}"
        shutil.rmtree(home, ignore_errors=True)
        runs.append(ingest(home, header_only))
        shutil.rmtree(home, ignore_errors=True)
    return {"seconds_median": statistics.median(r["seconds"] for r in runs), "runs": [r["seconds"] for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}


def rate(result: dict, variants: int, fixed_s: float) -> dict:
    marginal = max(result["seconds"] - fixed_s, 1e-9)
    return {**result, "variants": variants, "marginal_seconds": marginal, "variants_per_s": variants / marginal}


def fresh_and_again(work: Path, name: str, vcf: Path, variants: int, fixed_s: float, reference_texts: int = 20_000) -> dict:
    """Ingest `vcf` into a new home (every variant new), then a copy of it under another name
    (a new partition whose variants are all embedded already). The fresh ingest is compared with a
    bare int8 encode of its own texts (`bare_int8_encode`)."""
    home = work / f"home_{name}"
    shutil.rmtree(home, ignore_errors=True)
    fresh = rate(ingest(home, vcf), variants, fixed_s)
    bare = bare_int8_encode(home, reference_texts)
    fresh["texts_per_s"] = bare["texts"] / fresh["marginal_seconds"]
    fresh["vs_bare_int8_encode"] = fresh["texts_per_s"] / bare["texts_per_s"]
    # The same encoder inside the run (its step's own timer): tells a slower pipeline from a
    # reference that ran fast (5,000 texts measured 303-431 texts/s across runs on this machine).
    fresh["encode_in_run"] = encode_in_run(home)
    fresh["encode_in_run"]["vs_bare_int8_encode"] = fresh["encode_in_run"]["texts_per_s"] / bare["texts_per_s"]
    copy = work / f"again_{vcf.name}"
    shutil.copyfile(vcf, copy)
    again = rate(ingest(home, copy), variants, fixed_s)
    return {"home": str(home), "fresh": fresh, "bare_int8_encode": bare, "reingest": again}


def encode_in_run(home: Path) -> dict:
    """Texts the home's last embedding step encoded, and its encode seconds (step metadata)."""
    import dagster as dg

    from vcf_pipeline.lib.settings import Settings

    with dg.DagsterInstance.from_config(str(Settings.load(home).dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("variant_embeddings"))
    metadata = event.asset_materialization.metadata
    texts, seconds = metadata["embedded_new"].value, metadata["encode_seconds"].value
    return {"texts": texts, "seconds": seconds, "texts_per_s": texts / seconds if seconds else 0.0}


def bare_int8_encode(home: Path, sample: int) -> dict:
    """The floor of a fresh ingest: the default int8 ONNX model's `encode` alone (tokenise, run,
    pool; no describing, lookups or writes), on an evenly spaced sample of the distinct texts the
    ingest embedded (all of them would double the stage's time), in this process."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from vcf_pipeline.lib.embedding.embedder import Embedder

    files = sorted((home / "warehouse").glob("*/*/embeddings-*.parquet"))
    texts = pc.unique(pq.read_table(files[0], columns=["description"])["description"]).to_pylist()
    chosen = texts[:: max(1, len(texts) // sample)][:sample]
    embedder = Embedder(backend="onnx-int8")
    embedder.encode(["warm-up"])
    started = time.perf_counter()
    embedder.encode(chosen)
    seconds = time.perf_counter() - started
    return {"texts": len(texts), "sampled": len(chosen), "seconds": seconds, "texts_per_s": len(chosen) / seconds}


def reingest(work: Path, home: Path, vcf: Path, variants: int, fixed_s: float) -> dict:
    """Re-ingest alone: a copy of `vcf` under another name into a scratch copy of `home`, an
    ingested home that holds `vcf` (the home itself is left as it was)."""
    if not home.exists():
        raise FileNotFoundError(f"{home}: run the ingest stage first (it makes the home this stage copies)")
    scratch = work / f"reingest_{home.name}"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(home, scratch)
    copy = work / f"reingest_{vcf.name}"  # a name neither the home nor its fresh_and_again copy holds
    shutil.copyfile(vcf, copy)
    os.sync()  # the copies' writeback (5.8 GB at 1M) would otherwise run during the measured ingest
    try:
        return {"home": str(home), "reingest": rate(ingest(scratch, copy), variants, fixed_s)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
