"""The `vcf-pipeline` command as a user runs it, and the project's own sample files."""

import subprocess
import sys

from vcf_pipeline.lib.synthetic import write_samples
from vcf_pipeline_tests.conftest import SAMPLES, SHARED_VCF


def test_ingest_command_summarises_each_file_and_fails_when_one_fails(tmp_path):
    good = SHARED_VCF / "gatk__SelectVariants__gvcfExample.g.vcf"
    bad = SHARED_VCF / "cyvcf2__tests__empty.vcf"
    header_only = SHARED_VCF / "pysam__cbcf_data__example_vcf42_only_header.vcf"
    run = subprocess.run(
        [sys.executable, "-m", "vcf_pipeline.cli", "ingest", "--home", str(tmp_path), str(good), str(bad), str(header_only)],
        capture_output=True, text=True, timeout=600,
    )
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    assert run.returncode == 1, run.stdout + run.stderr
    assert lines[0].startswith("ok") and "records=12 variants=4" in lines[0] and "ref_blocks_skipped=8" in lines[0]
    assert lines[1].startswith("FAILED") and bad.name in lines[1] and "empty" in lines[1]
    assert lines[2].startswith("ok") and "records=0" in lines[2]
    assert lines[3] == f"2 ingested, 1 failed (home {tmp_path})"
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()


def test_bundled_samples_are_what_the_generator_writes(tmp_path):
    for written in write_samples(tmp_path):
        assert written.read_bytes() == (SAMPLES / written.name).read_bytes(), written.name
