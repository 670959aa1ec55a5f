"""Many small files per run: the folder sensor puts new files into runs over ranges of partitions, each
file keeps its own materialisation and metadata, and a group with a bad file is run again file by
file, so that only the bad file's partition fails. Runs execute in process on the home's instance."""

from __future__ import annotations

import shutil

import dagster as dg
import pysam

from vcf_pipeline.definitions import defs
from vcf_pipeline.defs.resources import PipelineSettings
from vcf_pipeline.defs.watch.sensors import (
    RANGE_END,
    RANGE_START,
    split_failed_groups,
    vcf_folder_sensor,
)
from vcf_pipeline.instance.home import prepare_home
from vcf_pipeline.instance.in_process_runs import QUIET
from vcf_pipeline.lib.watch.run_groups import run_groups
from vcf_pipeline_tests.conftest import MALFORMED, SHARED_VCF
from vcf_pipeline_tests.files import write_settings
from vcf_pipeline_tests.stores import StoredView

GOOD = ["bcftools__test__many-alts.vcf", "htslib__test__vcf44_1.vcf", "pysam__cbcf_data__gnomad.vcf",
        "vcf2maf__tests__test_delly.vcf", "snpeff__old__EML4-ALK_fusion.vcf"]
BAD = "vcfpy__vcfs_from_the_wild__issue-16.vcf"
LATER = ["gatk__SelectVariants__gvcfExample.g.vcf", "htsjdk__vcf43__all43Features.utf8.vcf"]


def test_groups_are_consecutive_and_bounded():
    files = [("a", 10), ("b", 10), ("c", 100), ("d", 10), ("e", 10), ("f", 10)]
    assert run_groups(files, max_files=2, max_bytes=50) == [["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert run_groups(files, max_files=25, max_bytes=1000) == [["a", "b", "c", "d", "e", "f"]]
    assert run_groups(files, max_files=1, max_bytes=1000) == [[k] for k, _ in files]


def tick(instance, home, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"settings": PipelineSettings(home=str(home))})
    result = vcf_folder_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def execute(instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    partition = {"partition_key": request.partition_key} if request.partition_key else {}
    return defs.resolve_job_def("ingest_vcf").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, tags=dict(request.tags), **partition
    )


def records(name: str) -> int:
    with pysam.VariantFile(str(SHARED_VCF / name)) as vcf:
        return sum(1 for _ in vcf)


def test_a_drop_of_small_files_is_one_run_and_a_bad_file_fails_alone(tmp_path):
    home = tmp_path / "home"
    write_settings(home, {"watch": {"settle_s": 0}})
    prepare_home(home)
    for name in GOOD:
        shutil.copyfile(SHARED_VCF / name, home / "incoming" / name)
    with dg.DagsterInstance.get() as instance:
        first = tick(instance, home)
        [group] = first.run_requests
        keys = sorted(f"incoming/{n}" for n in GOOD)
        assert (group.partition_key, group.tags[RANGE_START], group.tags[RANGE_END]) == (None, keys[0], keys[-1])
        result = execute(instance, group)
        assert result.success
        parsed = {m.partition: m.metadata for m in result.asset_materializations_for_node("parsed_variants")}
        assert {k: parsed[k]["records"].value for k in keys} == {f"incoming/{n}": records(n) for n in GOOD}
        assert {m.partition for m in result.asset_materializations_for_node("kuzu_graph")} == set(keys)
        view = StoredView(home)
        view.assert_consistent()
        for name in GOOD:
            view.assert_holds_exactly(f"incoming/{name}", SHARED_VCF / name)

        # Three more, one of them malformed: their group fails, then each runs alone.
        for name in [BAD, *LATER]:
            shutil.copyfile(SHARED_VCF / name, home / "incoming" / name)
        [group] = tick(instance, home, first.cursor).run_requests
        failed = execute(instance, group)
        assert not failed.success
        [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
        assert f"incoming/{BAD}" in failure.event_specific_data.error_display_string
        assert not failed.asset_materializations_for_node("parsed_variants")  # nothing of the group is marked done

        run = instance.get_run_by_id(failed.run_id)
        failure_event = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name=split_failed_groups.name, dagster_event=failure_event, dagster_instance=instance, dagster_run=run
        ).for_run_failure()
        alone = list(split_failed_groups(context))
        assert sorted(r.partition_key for r in alone) == sorted(f"incoming/{n}" for n in [BAD, *LATER])
        outcomes = {r.partition_key: execute(instance, r) for r in alone}
        assert {k: r.success for k, r in outcomes.items()} == {f"incoming/{n}": n != BAD for n in [BAD, *LATER]}
        bad_failure = [e for e in outcomes[f"incoming/{BAD}"].all_events if e.event_type_value == "STEP_FAILURE"][0]
        assert MALFORMED[BAD] in bad_failure.event_specific_data.error_display_string
        view = StoredView(home)
        view.assert_consistent()
        for name in [*GOOD, *LATER]:
            view.assert_holds_exactly(f"incoming/{name}", SHARED_VCF / name)
        view.assert_absent(f"incoming/{BAD}")
