"""The retraction job, run in process on a home ingested through Dagster."""

import dagster as dg

from vcf_pipeline.definitions import defs
from vcf_pipeline.defs.ingest.retraction import retraction_run_config
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.stores.warehouse import PartitionFiles
from vcf_pipeline_tests.conftest import SHARED_VCF
from vcf_pipeline_tests.stores import StoredView

KEPT = SHARED_VCF / "htsjdk__vcf43__all43Features.utf8.vcf"
GONE = SHARED_VCF / "htslib__test__vcf44_1.vcf"
BACK = SHARED_VCF / "gatk__SelectVariants__gvcfExample.g.vcf"


def test_retraction_removes_deleted_files_and_spares_files_registered_again(tmp_path):
    summaries = ingest_paths(tmp_path, [KEPT, GONE, BACK])
    assert all(s.ok for s in summaries)
    keys = {s.path: s.partition_key for s in summaries}
    with dg.DagsterInstance.get() as instance:
        # The sensor deleted two partitions; one of the files came back before the retraction ran.
        instance.delete_dynamic_partition("vcf_files", keys[GONE])
        result = defs.resolve_job_def("retract_vcf_files").execute_in_process(
            run_config=retraction_run_config([keys[GONE], keys[BACK]]), instance=instance
        )
    assert result.success
    view = StoredView(tmp_path)
    view.assert_consistent()
    view.assert_absent(keys[GONE])
    view.assert_holds_exactly(keys[KEPT], KEPT)
    view.assert_holds_exactly(keys[BACK], BACK)
    assert not PartitionFiles(tmp_path / "warehouse", keys[GONE]).exists()
    assert PartitionFiles(tmp_path / "warehouse", keys[BACK]).exists()
