"""Ingest through Dagster into real LanceDB and Kuzu stores, with the real embedding model."""

import pyarrow.compute as pc
import pytest

from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.embedding.embedder import Embedder
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, VARIANTS
from vcf_pipeline.lib.system.memory import process_peak_mb
from vcf_pipeline.lib.vcf.identity import make_variant_id
from vcf_pipeline_tests.conftest import (
    MALFORMED,
    SAMPLES,
    SHARED_BUILDS,
    SHARED_VCF,
    copy_home,
    expected_from_pysam,
    expected_genotypes,
    readable_shared_files,
)
from vcf_pipeline_tests.files import write_raw_calls


def stores(home):
    return VariantStore(home / "lancedb"), GraphStore(home / "kuzu" / "graph.kuzu")


def test_every_readable_file_ingests_and_every_malformed_one_fails_alone(shared_home):
    _, summaries = shared_home
    for path in readable_shared_files():
        assert summaries[path.name].ok, summaries[path.name].error
    for name, phrase in MALFORMED.items():
        summary = summaries[name]
        assert not summary.ok and name in summary.error and phrase in summary.error


def test_variants_and_calls_are_exactly_those_of_the_files(shared_home):
    home, _ = shared_home
    lance, _ = stores(home)
    expected_variants, expected_calls, expected_carriers = set(), 0, 0
    for path in readable_shared_files():
        variants, calls = expected_genotypes(path)
        expected_variants |= variants
        expected_calls += len(calls)  # carriers', and the hom-ref and no-call calls of files of few samples
        expected_carriers += sum(1 for c in calls if c[-1] == "carrier")
    stored = lance.read(VARIANTS, columns=["variant_id", "chrom", "pos", "ref", "alt"])
    assert stored.num_rows == len(expected_variants)
    assert set(zip(*(stored[c].to_pylist() for c in ("chrom", "pos", "ref", "alt")))) == expected_variants
    assert pc.count_distinct(stored["variant_id"]).as_py() == stored.num_rows
    assert lance.count(CALLS) == expected_calls
    assert lance.count(CALLS, "zygosity IN ('heterozygous', 'homozygous', 'hemizygous')") == expected_carriers


def test_graph_counts_equal_lancedb(shared_home):
    home, _ = shared_home
    lance, graph = stores(home)
    samples = pc.count_distinct(lance.read(CALLS, columns=["sample"])["sample"]).as_py()
    assert graph.count("(v:Variant)") == lance.count(VARIANTS)
    assert graph.count("(s:Sample)") == samples
    assert graph.count("()-[r:CARRIES]->()") == lance.count(CALLS, "zygosity IN ('heterozygous', 'homozygous', 'hemizygous')")
    assert graph.count("(f:VcfFile)") == len(readable_shared_files())


def test_annotations_land_in_the_store(shared_home):
    home, _ = shared_home
    lance, graph = stores(home)
    clinvar_ids, _ = expected_from_pysam(SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz")
    clinvar = lance.read(VARIANTS, columns=["variant_id", "clinical_significance"], where="clinical_significance IS NOT NULL")
    assert {make_variant_id("GRCh38", *k) for k in clinvar_ids} <= set(clinvar["variant_id"].to_pylist())
    for name in ("bcftools__test__split-vep.vcf", "snpeff__old__EML4-ALK_fusion.vcf"):
        ids = [make_variant_id(SHARED_BUILDS[name][0], *k) for k in expected_from_pysam(SHARED_VCF / name)[0]]
        rows = lance.read(VARIANTS, columns=["gene_symbol", "consequence"], where="variant_id IN ({})".format(", ".join(f"'{i}'" for i in ids)))
        annotated = sum(bool(r["gene_symbol"] and r["consequence"]) for r in rows.to_pylist())
        assert annotated / len(ids) > 0.9, name
    genes = graph.query("MATCH (v:Variant)-[:IN_GENE]->(g:Gene {symbol: $g}) RETURN count(*) AS n", {"g": "SAMD11"})
    assert genes["n"][0].as_py() > 0


def test_malformed_file_leaves_stores_untouched(shared_home, tmp_path):
    home = copy_home(shared_home[0], tmp_path / "home")
    lance, graph = stores(home)
    before = (lance.version(VARIANTS), lance.version(CALLS), graph.count("(v:Variant)"), graph.count("()-[r]->()"))
    [summary] = ingest_paths(home, [SHARED_VCF / "hts-specs__4.3-failed__failed_body_format_000.vcf"])
    assert not summary.ok and "record 2" in summary.error
    assert (lance.version(VARIANTS), lance.version(CALLS), graph.count("(v:Variant)"), graph.count("()-[r]->()")) == before


def test_reingesting_a_file_changes_no_count_and_embeds_nothing(samples_home, tmp_path):
    home = copy_home(samples_home[0], tmp_path / "home")
    lance, graph = stores(home)
    before = (lance.count(VARIANTS), lance.count(CALLS), graph.count("(v:Variant)"), graph.count("()-[r]->()"))
    [again] = ingest_paths(home, [SAMPLES / "family_trio.vcf"])
    assert again.ok and again.metadata["embedded_new"] == 0 and again.metadata["reused_cached"] > 0
    assert set(again.peak_mb) == {"parse", "embed", "write", "upkeep", "graph"} and "peak_mb=parse:" in again.line()
    assert all(0 < mb <= process_peak_mb() for mb in again.peak_mb.values())  # MB, each step's own
    assert (lance.count(VARIANTS), lance.count(CALLS), graph.count("(v:Variant)"), graph.count("()-[r]->()")) == before


def test_a_second_file_embeds_only_its_new_variants(samples_home):
    _, summaries = samples_home
    first, second = summaries["clinvar_sites.vcf"], summaries["family_trio.vcf"]
    first_ids = {make_variant_id("GRCh38", *k) for k in expected_from_pysam(SAMPLES / "clinvar_sites.vcf")[0]}
    second_ids = {make_variant_id("GRCh38", *k) for k in expected_from_pysam(SAMPLES / "family_trio.vcf")[0]}
    shared = len(first_ids & second_ids)
    assert first.metadata["embedded_new"] == len(first_ids)
    assert shared > 0
    assert second.metadata["reused_cached"] == shared
    assert second.metadata["embedded_new"] == len(second_ids) - shared


def test_asset_checks_pass_and_partitions_are_registered(samples_home):
    import dagster as dg

    home, summaries = samples_home
    with dg.DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        assert set(instance.get_dynamic_partitions("vcf_files")) == {s.partition_key for s in summaries.values()}
        for summary in summaries.values():
            records = instance.get_records_for_run(summary.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
            assert len(records) == 4
            assert all(r.event_log_entry.dagster_event.event_specific_data.passed for r in records)


@pytest.mark.parametrize("gene", ["TP53", "CFTR", "LDLR"])
def test_search_by_gene_text_returns_that_genes_variants_first(samples_home, gene):
    home, _ = samples_home
    lance, _ = stores(home)
    carriers = lance.count(VARIANTS, f"gene_symbol = '{gene}'")
    assert carriers >= 3
    [vector] = Embedder().encode([f"{gene} gene"])
    hits = lance.search(vector, limit=carriers, columns=["variant_id", "gene_symbol"])
    assert hits["gene_symbol"].to_pylist() == [gene] * carriers


def test_search_on_real_clinvar_data_finds_the_gene(shared_home):
    home, _ = shared_home
    lance, _ = stores(home)
    [vector] = Embedder().encode(["SAMD11 missense variant"])
    hits = lance.search(vector, limit=3, columns=["gene_symbol"])
    assert hits["gene_symbol"].to_pylist() == ["SAMD11"] * 3


def test_a_large_unannotated_file_ingests_without_a_useless_vector_index(tmp_path):
    vcf = tmp_path / "raw_calls.vcf"
    write_raw_calls(vcf, 300_000)
    [summary] = ingest_paths(tmp_path / "home", [vcf])
    assert summary.ok, summary.error
    lance, graph = stores(tmp_path / "home")
    expected, _ = expected_from_pysam(vcf)
    assert lance.count(VARIANTS) == len(expected) == 300_000
    assert graph.count("(v:Variant)") == 300_000
    # Twelve texts ("SNV A>G", ...) cannot train 547 IVF partitions: no index, exact search, and it says so.
    table = lance.db.open_table(VARIANTS)
    assert [i for i in table.list_indices() if i.columns == ["embedding"]] == []
    from vcf_pipeline.lib.stores.table_upkeep import distinct_vectors

    assert distinct_vectors(table) == 12
    hits = lance.search(Embedder().encode(["SNV C>T"])[0], limit=5, columns=["ref", "alt"])
    assert hits.num_rows == 5 and set(zip(hits["ref"].to_pylist(), hits["alt"].to_pylist())) == {("C", "T")}


def test_a_source_can_skip_bad_records_instead_of_failing_the_file(tmp_path):
    lenient, strict = tmp_path / "lenient", tmp_path / "strict"
    body = "chr1\t50\t.\tC\tT\t.\t.\t.\nchr1\t60\t.\tA\tA T\t.\t.\t.\nchr1\t70\t.\tG\tGA\t.\t.\t.\n"
    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    for folder in (lenient, strict):
        folder.mkdir()
        (folder / "calls.vcf").write_text(header + body)
    home = tmp_path / "home"
    home.mkdir()
    (home / "vcf-pipeline.yaml").write_text(f"sources:\n  lab: {{path: {lenient}, bad_records: skip}}\n  core: {strict}\n")
    skipped, refused = ingest_paths(home, [lenient / "calls.vcf", strict / "calls.vcf"])
    assert skipped.ok, skipped.error
    assert skipped.metadata["bad_records_skipped"] == 1 and "ALT 'A T'" in skipped.metadata["bad_record_examples"]
    assert not refused.ok and "record 2 at chr1:60: ALT 'A T' is neither bases" in refused.error
    lance, _ = stores(home)
    assert sorted(lance.read(VARIANTS, columns=["pos"])["pos"].to_pylist()) == [50, 70]


def test_the_home_and_everything_in_it_is_owner_only(tmp_path):
    import stat

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    assert ingest_paths(home, [SAMPLES / "family_trio.vcf", SHARED_VCF / "htslib__test__vcf44_1.vcf"])[0].ok
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "sources.json").exists()  # the shared folder was registered as a source
    opened = [p for p in home.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert not opened, [f"{p}: {oct(stat.S_IMODE(p.stat().st_mode))}" for p in opened[:10]]


def test_write_steps_refuse_an_instance_without_single_writer_pools(tmp_path):
    import dagster as dg

    from vcf_pipeline.definitions import defs
    from vcf_pipeline.defs.resources import PipelineSettings

    with dg.instance_for_test() as instance:  # Dagster's defaults: no pool limits
        instance.add_dynamic_partitions("vcf_files", ["incoming/a.vcf"])
        for asset in ("lancedb_variants", "kuzu_graph"):
            result = dg.materialize(
                [defs.get_assets_def(asset)], partition_key="incoming/a.vcf", instance=instance, resources={"settings": PipelineSettings(home=str(tmp_path))}, raise_on_error=False
            )
            [failure] = [e for e in result.all_events if e.is_step_failure]
            pool = asset.split("_")[0]
            assert f"pool '{pool}' is not limited to one writer" in failure.step_failure_data.user_failure_data.description
    assert not (tmp_path / "lancedb").exists() or not any((tmp_path / "lancedb").iterdir())  # nothing written
