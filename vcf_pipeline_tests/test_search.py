"""Search that finds what a user names: exact lookups (rsID, gene, HGVS, variant id, region) on the
whole shared corpus, checked against the stored rows read independently, bcftools for regions,
and the sample data through `vcf-pipeline search` as a user runs it."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pysam.bcftools
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.lib.embedding.embedder import Embedder
from vcf_pipeline.lib.search.hybrid import VariantSearch
from vcf_pipeline.lib.search.keywords import one_letter
from vcf_pipeline.lib.search.query_reading import read_query
from vcf_pipeline.lib.search.selection import (
    MAX_REGIONS,
    Region,
    SelectionError,
    parse_region,
    read_bed,
    read_genes,
    selection_from,
)
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline_tests.conftest import SHARED_VCF
from vcf_pipeline_tests.test_sqlfilter import HOSTILE

CLINVAR = SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz"


@pytest.fixture(scope="module")
def corpus(shared_home):
    """The shared corpus's `variants` rows (read once, no vectors) and a search over them."""
    home, _ = shared_home
    table = VariantStore(home / "lancedb").open_table(VARIANTS)
    rows = table.search().select([f.name for f in table.schema if f.name != "embedding"]).limit(None).to_arrow().to_pylist()
    return rows, VariantSearch(table, Embedder().encode)


def _short(hgvs: str) -> str:
    """An HGVS change without its reference sequence (`ENST0001.2:c.76A>T` -> `c.76A>T`)."""
    return re.sub(r"^[^:]*:(?=[cgmnrp]\.)", "", hgvs).replace("(", "").replace(")", "")


def test_keywords_hold_every_spelling_of_each_identifier(corpus):
    rows, _ = corpus
    checked = 0
    for row in rows:
        tokens = set(row["keywords"].split())
        expected = {row["variant_id"], row["variant_id"].split(":", 1)[1], row["rsid"], row["gene_symbol"], row["gene_id"]}
        if row["hgvs_c"]:
            expected |= {row["hgvs_c"], _short(row["hgvs_c"])}
        if row["hgvs_p"]:
            short = _short(row["hgvs_p"])
            bare = short.removeprefix("p.")
            expected |= {short, bare, one_letter(bare), "p." + one_letter(bare)}
            checked += 1
        assert {e.lower() for e in expected if e} <= tokens, row["variant_id"]
        if row["clinical_significance"]:
            assert set(re.split(r"[^a-z0-9]+", row["clinical_significance"].lower())) - {""} <= tokens
    assert checked > 50  # the corpus has protein changes to check


def test_every_rsid_finds_its_variant_first_and_only_it(corpus):
    rows, search = corpus
    by_rsid: dict[str, set[str]] = {}
    for row in rows:
        if row["rsid"]:
            by_rsid.setdefault(row["rsid"], set()).add(row["variant_id"])
    assert len(by_rsid) > 300
    for rsid, ids in sorted(by_rsid.items())[::7]:  # every seventh: a spread over all files, in seconds
        found = search.search(rsid, limit=10).rows
        assert {r["variant_id"] for r in found} == ids, rsid
        assert found[0]["reasons"] == [f"exact: rsID {rsid}"]


def test_gene_and_protein_change_in_both_letter_forms_find_the_variant_first(corpus):
    rows, search = corpus
    cases = [r for r in rows if r["gene_symbol"] and r["hgvs_p"] and "?" not in r["hgvs_p"]]
    assert len(cases) > 40
    for row in cases:
        short = _short(row["hgvs_p"])
        same_change = {r["variant_id"] for r in rows if r["gene_symbol"] == row["gene_symbol"] and r["hgvs_p"] and _short(r["hgvs_p"]) == short}
        for form in (short, one_letter(short).removeprefix("p.")):
            found = search.search(f"{row['gene_symbol']} {form}", limit=len(same_change) + 5).rows
            assert {r["variant_id"] for r in found} == same_change, (row["variant_id"], form)


def test_gene_and_coding_change_select_exactly_that_change(corpus):
    rows, search = corpus
    cases = [r for r in rows if r["gene_symbol"] and r["hgvs_c"]][::9]
    for row in cases:
        change = _short(row["hgvs_c"])
        expected = {r["variant_id"] for r in rows if r["gene_symbol"] == row["gene_symbol"] and r["hgvs_c"] and _short(r["hgvs_c"]) == change}
        found = search.search(f"{row['gene_symbol']}:{change}", limit=len(expected) + 5).rows
        assert {r["variant_id"] for r in found} == expected, row["variant_id"]


def test_a_gene_query_returns_only_that_gene_ranked_by_the_rest(corpus):
    rows, search = corpus
    genes = sorted({r["gene_symbol"] for r in rows if r["gene_symbol"]})
    for gene in genes[::10]:
        for text in (gene, f"{gene} missense variant", f"{gene.lower()} pathogenic" if any(c.isdigit() for c in gene) else f"{gene} pathogenic"):
            found = search.search(text, limit=5, columns=["gene_symbol"]).rows
            assert found and {r["gene_symbol"] for r in found} == {gene}, text


def test_a_variant_id_with_or_without_build_finds_it(corpus):
    rows, search = corpus
    for row in rows[::40]:
        assembly, site = row["variant_id"].split(":", 1)
        if assembly == "unknown":
            continue
        assert [r["variant_id"] for r in search.search(row["variant_id"]).rows] == [row["variant_id"]]
        chrom, pos, ref, alt = site.rsplit("-", 3)
        bare = f"{chrom.removeprefix('chr')}-{pos}-{ref}-{alt}"  # Ensembl spelling, no build: that site in any build
        same_site = {r["variant_id"] for r in rows if r["variant_id"].split(":", 1)[1] == site}
        assert {r["variant_id"] for r in search.search(bare, limit=20).rows} == same_site


def test_a_region_in_a_query_selects_the_variants_overlapping_it(corpus):
    rows, search = corpus
    middle = sorted((r for r in rows if r["chrom"] == "chr1"), key=lambda r: r["pos"])[len(rows) // 20]
    region = Region("chr1", max(1, middle["pos"] - 50_000), middle["pos"] + 50_000)
    expected = {r["variant_id"] for r in rows if r["chrom"] == region.chrom and r["pos"] <= region.end and r["end"] >= region.start}
    assert expected
    found = search.search(f"1:{region.start:,}-{region.end:,}", limit=1000).rows
    assert {r["variant_id"] for r in found} == expected


def test_region_selection_agrees_with_bcftools_on_the_clinvar_file(shared_home, capsys):
    home, _ = shared_home
    records = [line.split("\t") for line in pysam.bcftools.view("-H", str(CLINVAR)).splitlines()]
    chrom, pos = records[len(records) // 2][0], int(records[len(records) // 2][1])
    region = f"{chrom}:{pos - 2_000_000}-{pos + 2_000_000}"
    expected = {(f"chr{c.removeprefix('chr')}", int(p)) for c, p, *_ in (line.split("\t") for line in pysam.bcftools.view("-H", "-r", region, str(CLINVAR)).splitlines())}
    assert code_of(capsys, "filter", "assembly = 'GRCh38'", "--region", region, "--home", home, "--limit", 10_000, "--json") == 0
    got = json.loads(capsys.readouterr().out)["rows"]
    held = {(r["chrom"], r["pos"]) for r in got}
    assert expected and expected <= held  # the file's records in the region; other GRCh38 files may add more
    assert all(r["chrom"] == parse_region(region).chrom for r in got)


def code_of(capsys, *argv) -> int:
    return main([str(a) for a in argv])


def test_how_queries_are_read():
    known = {"BRCA1", "SAMD11", "A2M", "PIK3CA"}
    genes = lambda words: {w: w for w in words if w in known}  # noqa: E731
    cases = {
        "BRCA1 pathogenic": ([("gene", "BRCA1")], "pathogenic"),
        "brca1 frameshift": ([("gene", "BRCA1")], "frameshift"),
        "rs80357906": ([("rsid", "rs80357906")], ""),
        "SAMD11 p.Glu220Ter": ([("gene", "SAMD11"), ("hgvs_p", "p.glu220ter")], ""),
        "NM_007294.4(BRCA1):c.5096G>A": ([("gene", "BRCA1"), ("hgvs_c", "c.5096g>a")], ""),
        "ENST00000357654.9:c.5096G>A": ([("hgvs_c", "c.5096g>a")], ""),
        "R1699Q": ([("hgvs_p", "r1699q")], ""),
        "p.(Arg1699Gln)": ([("hgvs_p", "p.arg1699gln")], ""),
        "PIK3CA p.Gly118_Asn170delinsAsp": ([("gene", "PIK3CA"), ("hgvs_p", "p.gly118_asn170delinsasp")], ""),
        "chr17:43044295-43125483": ([("region", "chr17:43,044,295-43,125,483")], ""),
        "17:43,044,295-43,125,483 benign": ([("region", "chr17:43,044,295-43,125,483")], "benign"),
        "1-925952-G-A": (None, ""),  # checked below: every build's spelling of the site
        "ENSG00000012048": ([("gene_id", "ENSG00000012048")], ""),
        "met pole in A2M": ([("gene", "A2M")], "met pole in"),  # lower-case words without digits stay words
        "Hereditary breast ovarian cancer": ([], "Hereditary breast ovarian cancer"),
    }
    for text, (lookups, rest) in cases.items():
        read = read_query(text, genes)
        got = [(lookup.kind, lookup.value) for lookup in read.lookups]
        if lookups is None:
            assert [k for k, _ in got] == ["variant_id"] and "GRCh38:chr1-925952-G-A" in got[0][1].split(",")
        else:
            assert got == lookups, text
        assert read.rest == rest, text


def test_regions_bed_files_and_gene_lists(tmp_path):
    assert parse_region("17:43,044,295-43,125,483") == Region("chr17", 43044295, 43125483)
    assert parse_region("chrX:5") == Region("chrX", 5, 5)
    assert parse_region("MT") == Region("chrM")
    for bad in ("chr1:10-5", "chr1:0-5", "chr1:1-10'", "chr1; DROP TABLE variants"):
        with pytest.raises(SelectionError):
            parse_region(bad)
    bed = tmp_path / "panel.bed"
    bed.write_text("track name=panel\n# BRCA1 exons\n17\t43044294\t43044400\tBRCA1_e1\nchrX 99 100\n")
    assert read_bed(bed) == [Region("chr17", 43044295, 43044400), Region("chrX", 100, 100)]
    bed.write_text("1\t99\t200\n1\t150\t300\n1\t300\t400\n2\t0\t10\n")  # overlapping and touching: merged
    assert selection_from(regions_file=bed).regions == (Region("chr1", 100, 400), Region("chr2", 1, 10))
    bed.write_text("".join(f"chr1\t{i * 10}\t{i * 10 + 5}\n" for i in range(MAX_REGIONS + 1)))
    with pytest.raises(SelectionError, match="split the BED file"):
        selection_from(regions_file=bed)
    bed.write_text("chr1\t100\t100\n")
    with pytest.raises(SelectionError, match=r"panel.bed, line 1: .*half-open"):
        read_bed(bed)
    genes = tmp_path / "genes.txt"
    genes.write_text("BRCA1\n# a comment\nHLA-A  # with a note\n\nTP53\n")
    assert read_genes(genes) == ["BRCA1", "HLA-A", "TP53"]
    genes.write_text("BRCA1\nTP53' OR 1=1\n")
    with pytest.raises(SelectionError, match=r"genes.txt, line 2"):
        read_genes(genes)


# --- through the command, on the bundled samples ----------------------------------------------


def run_json(capsys, *argv):
    code = main([str(a) for a in argv] + ["--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_brca1_pathogenic_returns_brca1_only_pathogenic_first(samples_home, capsys):
    home, _ = samples_home
    rows = VariantStore(home / "lancedb").read(VARIANTS, ["variant_id", "clinical_significance"], "gene_symbol = 'BRCA1'").to_pylist()
    pathogenic = {r["variant_id"] for r in rows if "pathogenic" in (r["clinical_significance"] or "").lower()}
    assert pathogenic and len(rows) > len(pathogenic)
    result = run_json(capsys, "search", "BRCA1", "pathogenic", "--home", home, "--limit", len(rows), "--select", "gene_symbol,clinical_significance")
    found = result["results"]
    assert {r["gene_symbol"] for r in found} == {"BRCA1"} and len(found) == len(rows)
    assert {r["variant_id"] for r in found[: len(pathogenic)]} == pathogenic
    assert result["reading"] == ["gene BRCA1 (exact)", "ranked by 'pathogenic'"]
    assert all(r["reasons"][0] == "exact: gene BRCA1" and r["score"] > 0 for r in found)


def test_many_queries_in_one_process_answer_as_single_queries_do(samples_home, capsys, tmp_path):
    home, _ = samples_home
    queries = ["BRCA1 pathogenic", "rs624498420", "chr17:43044295-43125483", "cystic fibrosis"]
    (tmp_path / "q.txt").write_text("# one query a line\n" + "\n".join(queries) + "\n")
    assert main(["search", "--queries", str(tmp_path / "q.txt"), "--home", str(home), "--limit", "3"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["query"] for a in answers] == queries
    for query, answer in zip(queries, answers):
        single = run_json(capsys, "search", query, "--home", home, "--limit", 3)
        assert [r["variant_id"] for r in answer["results"]] == [r["variant_id"] for r in single["results"]]


def test_modes_differ_as_documented(samples_home, capsys):
    home, _ = samples_home
    semantic = run_json(capsys, "search", "rs624498420", "--mode", "semantic", "--home", home, "--limit", 3)
    assert semantic["mode"] == "semantic" and all(r["reasons"][0].startswith("meaning rank") for r in semantic["results"])
    keyword = run_json(capsys, "search", "BRCA1 stop gained", "--mode", "keyword", "--home", home, "--limit", 3, "--select", "gene_symbol,consequence")
    assert keyword["results"][0]["consequence"] == "stop_gained"
    assert all("meaning" not in " ".join(r["reasons"]) for r in keyword["results"])


def test_selection_options_on_filter_export_and_graph(samples_home, capsys, tmp_path):
    home, _ = samples_home
    store = VariantStore(home / "lancedb")
    (tmp_path / "genes.txt").write_text("BRCA1\nCFTR\n")
    expected = set(store.read(VARIANTS, ["variant_id"], "gene_symbol IN ('BRCA1', 'CFTR')")["variant_id"].to_pylist())
    filtered = run_json(capsys, "filter", "--genes", tmp_path / "genes.txt", "--home", home, "--limit", 1000)
    assert {r["variant_id"] for r in filtered["rows"]} == expected
    run_json(capsys, "export", "--genes", tmp_path / "genes.txt", "--format", "parquet", "--out", tmp_path / "sel.parquet", "--home", home)
    assert set(pq.read_table(tmp_path / "sel.parquet")["variant_id"].to_pylist()) == expected
    both = run_json(capsys, "filter", "impact = 'HIGH'", "--genes", tmp_path / "genes.txt", "--region", "chr17:1-100000000", "--home", home)
    assert both["rows"] and all(r["gene_symbol"] == "BRCA1" for r in both["rows"])
    graph = run_json(capsys, "graph", "variants-in-gene", "BRCA1", "--region", "chr17:43057000-43062000", "--home", home)
    assert graph["rows"] and all(43057000 <= r["pos"] <= 43062000 for r in graph["rows"])
    code = main(["graph", "genes-for-condition", "cancer", "--genes", str(tmp_path / "genes.txt"), "--home", str(home)])
    assert code == 2 and "apply to queries that return variants" in capsys.readouterr().err


def test_hostile_text_is_only_ever_words_and_changes_nothing(samples_home, capsys, tmp_path):
    home, _ = samples_home
    table = VariantStore(home / "lancedb").open_table(VARIANTS)
    version, rows = table.version, table.count_rows()
    for text in HOSTILE:
        code = main(["search", text, "--home", str(home), "--limit", "3", "--json"])
        out, err = capsys.readouterr()
        assert code in (0, 2), (text, err)  # answered, or refused with a message; never a failure
        if code == 0:
            assert isinstance(json.loads(out)["results"], list)
    code = main(["filter", "--region", "chr1:1-10' OR 1=1", "--home", str(home)])
    assert code == 2 and "region" in capsys.readouterr().err
    table = VariantStore(home / "lancedb").open_table(VARIANTS)
    assert (table.version, table.count_rows()) == (version, rows)


def test_exact_lookups_work_before_the_full_text_index_exists(tmp_path, samples_home):
    home, _ = samples_home
    rows = VariantStore(home / "lancedb").read(VARIANTS).drop_columns(["keywords"])
    store = VariantStore(tmp_path / "db")  # a small store whose upkeep has not run
    store.upsert_variants(rows.to_batches(), rows.schema.field("embedding").type.list_size)
    table = store.open_table(VARIANTS)
    assert not [i for i in table.list_indices() if i.index_type == "FTS"]
    rsid = next(r for r in rows["rsid"].to_pylist() if r)
    search = VariantSearch(table, Embedder().encode)
    assert {r["rsid"] for r in search.search(rsid, columns=["rsid"]).rows} == {rsid}
    result = search.search("BRCA1 pathogenic", columns=["gene_symbol"])
    assert {r["gene_symbol"] for r in result.rows} == {"BRCA1"} and "no full-text index yet" in result.note


def test_a_table_from_before_keywords_gets_them_on_its_next_write(tmp_path, samples_home):
    home, _ = samples_home
    rows = VariantStore(home / "lancedb").read(VARIANTS)
    old = rows.drop_columns(["keywords"])
    store = VariantStore(tmp_path / "db")
    store.db.create_table(VARIANTS, old.slice(1))
    store.upsert_variants(old.slice(0, 1).to_batches(), old.schema.field("embedding").type.list_size)
    filled = store.read(VARIANTS, ["variant_id", "keywords"])
    assert dict(zip(*filled.to_pydict().values())) == dict(zip(rows["variant_id"].to_pylist(), rows["keywords"].to_pylist()))
    assert pa.compute.sum(pa.compute.is_null(filled["keywords"])).as_py() == 0
