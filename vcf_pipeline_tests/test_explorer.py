"""The variant explorer (`vcf-pipeline serve`) in a real headless browser: Debian's chromium driven by
Playwright, over a home holding the bundled samples and the trio's pedigree. Answers are checked
against LanceDB read directly and against the command line."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import CALLS, VARIANTS, sql_string
from vcf_pipeline.lib.system.process_groups import start_group, stop_groups
from vcf_pipeline_tests.conftest import SAMPLES, copy_home

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def explorer(samples_home, tmp_path_factory):
    """(base URL, home) of an explorer serving a copy of the samples home, with the trio's pedigree."""
    home = copy_home(samples_home[0], tmp_path_factory.mktemp("explorer") / "home")
    assert main(["samples", "load", str(SAMPLES / "family_trio.ped"), "--home", str(home)]) == 0
    port = _free_port()
    cli = Path(sys.executable).with_name("vcf-pipeline")
    server = start_group([str(cli), "serve", "--home", str(home), "--port", str(port)], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/folders", timeout=5)
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "the explorer did not start"
            time.sleep(0.3)
    yield base, home
    stop_groups([server], grace_s=0.5)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the explorer's tests need Debian's chromium (make browser installs it)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    opened.on("dialog", lambda dialog: (_ for _ in ()).throw(AssertionError(f"a script ran: {dialog.message}")))
    yield opened
    context.close()


def _cells(page, table: str, column: str) -> list[str]:
    headers = page.locator(f"{table} thead th").all_inner_texts()
    at = headers.index(column)
    return [row.locator("td").nth(at).inner_text() for row in page.locator(f"{table} tbody tr").all()]


def test_a_search_for_brca1_pathogenic_shows_only_brca1_rows_and_leads_to_carriers(explorer, page):
    base, home = explorer
    page.goto(base + "/")
    page.fill("#search-form input[name=q]", "BRCA1 pathogenic")
    page.click("#search-form button")
    page.wait_for_selector("table.results")
    genes = _cells(page, "table.results", "gene_symbol")
    store = VariantStore(home / "lancedb")
    in_store = store.count(VARIANTS, "gene_symbol = 'BRCA1'")
    assert genes and set(genes) == {"BRCA1"} and len(genes) == min(in_store, 25)
    # The export link gives every result as CSV, in the pages' order.
    import csv
    import io

    exported = list(csv.DictReader(io.StringIO(urllib.request.urlopen(base + page.get_attribute("#export", "href")).read().decode())))
    assert [r["variant_id"] for r in exported][: len(genes)] == _cells(page, "table.results", "variant_id")
    assert len(exported) == in_store and {r["gene_symbol"] for r in exported} == {"BRCA1"}
    # Follow the first variant with a carrier to its page: its calls are those LanceDB holds.
    carried = store.read(CALLS, ["variant_id"], "zygosity = 'heterozygous' OR zygosity = 'homozygous'")["variant_id"].to_pylist()
    ids = _cells(page, "table.results", "variant_id")
    target = next(i for i in ids if i in set(carried))
    page.click(f"table.results a:text-is('{target}')")
    page.wait_for_selector("#carriers")
    assert page.inner_text("#variant-id") == target
    shown = {(s, gt) for s, gt in zip(_cells(page, "#carriers", "sample"), _cells(page, "#carriers", "GT"))}
    stored = store.read(CALLS, ["sample", "gt"], f"variant_id = {sql_string(target)}").to_pylist()
    assert shown == {(c["sample"], c["gt"]) for c in stored}
    assert page.locator("#neighbours li").count() >= 1 and page.locator("a:text-is('BRCA1')").count() >= 1


def test_the_form_filters_select_what_lancedb_holds(explorer, page):
    base, home = explorer
    page.goto(base + "/?gene=BRCA1&significance=pathogenic&max_af=0.01")
    page.wait_for_selector("table.results")
    shown = set(_cells(page, "table.results", "variant_id"))
    rows = VariantStore(home / "lancedb").read(VARIANTS, ["variant_id", "clinical_significance", "allele_frequency"], "gene_symbol = 'BRCA1'").to_pylist()
    expected = {r["variant_id"] for r in rows if "pathogenic" in (r["clinical_significance"] or "").lower()
                and (r["allele_frequency"] is None or r["allele_frequency"] <= 0.01)}  # fmt: skip
    assert shown == expected and expected


def test_every_page_type_loads(explorer, page):
    base, home = explorer
    store = VariantStore(home / "lancedb")
    some = store.read(VARIANTS, ["variant_id", "gene_symbol"], "gene_symbol IS NOT NULL", limit=1).to_pylist()[0]
    for path, selector in (
        ("/", "#search-form"),
        ("/variant/" + some["variant_id"], "#variant-id"),
        ("/gene/" + some["gene_symbol"], "#gene"),
        ("/sample/PROBAND", "#sample"),
        ("/file/samples%2Ffamily_trio.vcf", "#file"),
        ("/folders", "#tick"),
    ):
        response = page.goto(base + path)
        assert response.status == 200, path
        page.wait_for_selector(selector)
        assert "Something failed" not in page.content()


def test_a_file_page_draws_its_summary(explorer, page):
    base, home = explorer
    page.goto(base + "/file/samples%2Ffamily_trio.vcf")
    for chart in ("#significance-chart", "#qual-chart", "#af-chart", "#calls-chart"):
        assert page.locator(f"{chart} svg rect").count() >= 1, chart
    # Calls per sample: the bars' numbers are the carriers' calls LanceDB holds of each sample of the file.
    counts = [int(t) for t in page.locator("#calls-chart svg text.count").all_text_contents()]
    store = VariantStore(home / "lancedb")
    carriers = "partition_key = 'samples/family_trio.vcf' AND zygosity IN ('heterozygous', 'homozygous', 'hemizygous')"
    stored = store.read(CALLS, ["sample"], carriers)["sample"].to_pylist()
    assert sorted(counts) == sorted(stored.count(s) for s in set(stored))
    assert sum(int(c) for c in _cells(page, "#consequences", "total")) == store.count("file_variants", "partition_key = 'samples/family_trio.vcf'")


def test_the_folders_page_shows_what_the_sensor_sees(explorer, page, tmp_path):
    base, home = explorer
    incoming = home / "incoming"
    incoming.mkdir(exist_ok=True)
    shutil.copyfile(SAMPLES / "clinvar_sites.vcf", incoming / "just_dropped.vcf")
    (tmp_path / "outside.vcf").write_text("")
    (incoming / "link.vcf").symlink_to(tmp_path / "outside.vcf")
    page.goto(base + "/folders")
    text = page.inner_text("main")
    assert "just_dropped.vcf" in text and "settling" in text  # dropped a moment ago: not settled yet
    assert "Refused symlinks" in text and "link.vcf" in text
    # The samples folder was registered by ingest: its files are shown ingested, with their pages.
    assert page.locator("a:text-is('family_trio.vcf')").count() == 1
    (incoming / "just_dropped.vcf").unlink()
    (incoming / "link.vcf").unlink()


def test_the_sample_page_asks_its_family_questions(explorer, page, capsys):
    base, home = explorer
    page.goto(base + "/sample/PROBAND")
    assert "TRIO1" in page.inner_text("table.kv")
    page.click("a:text-is('de-novo')")
    page.wait_for_selector("#question")
    shown = set(_cells(page, "#answer", "variant"))
    assert main(["graph", "de-novo", "TRIO1", "--home", str(home), "--json"]) == 0
    assert shown == {r["variant_id"] for r in json.loads(capsys.readouterr().out)["rows"]}


@pytest.mark.parametrize(
    ("field", "value", "refused"),
    [
        ("filter", "pos > 1; DROP TABLE variants", True),
        ("filter", "gene_symbol = 'X' OR 1=1) --", True),
        ("region", "chr1:1-10' OR '1'='1", True),
        ("max_af", "1e400", True),
        ("gene", "'; DROP TABLE variants; --", False),
        ("q", "<script>alert(1)</script>", False),
    ],
)
def test_hostile_input_is_refused_or_escaped_and_changes_nothing(explorer, page, field, value, refused):
    base, home = explorer
    store = VariantStore(home / "lancedb")
    before = {name: store.count(name) for name in store.table_names()}
    page.goto(base + "/")
    page.fill(f"#search-form [name={field}]", value)
    with page.expect_response(lambda r: r.url.startswith(base + "/?")) as answer:
        page.click("#search-form button")
    assert answer.value.status == (400 if refused else 200)
    if refused:
        assert page.locator("#error").count() == 1
    assert "<script>alert(1)</script>" not in page.content().split("<main>")[1]  # shown as text, never as markup
    assert {name: VariantStore(home / "lancedb").count(name) for name in store.table_names()} == before


def test_an_empty_home_gets_a_plain_page(tmp_path, browser):
    from starlette.testclient import TestClient

    from vcf_pipeline.explorer.app import make_app
    from vcf_pipeline.lib.settings import Settings

    client = TestClient(make_app(Settings.load(tmp_path / "empty")))
    for path in ("/", "/variant/GRCh38:chr1-1-A-G", "/gene/BRCA1", "/file/x"):
        response = client.get(path)
        assert response.status_code in (200, 404) and "Traceback" not in response.text
    assert "Nothing ingested yet" in client.get("/").text


def test_each_files_materialisation_links_to_its_page_and_carries_its_summary(explorer, samples_home):
    import dagster as dg

    from vcf_pipeline.lib.settings import Settings

    home = samples_home[0]
    with dg.DagsterInstance.from_config(str(Settings.load(home).dagster_home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey("lancedb_variants"), limit=20).records
    latest = {}
    for record in sorted(records, key=lambda r: r.storage_id):
        latest[record.asset_materialization.partition] = record.asset_materialization.metadata
    metadata = latest["samples/family_trio.vcf"]
    assert metadata["explorer"].value.endswith("/file/samples%2Ffamily_trio.vcf")
    per_sample = {r.data["sample"]: r.data["calls"] for r in metadata["calls_per_sample"].value.records}
    stored = VariantStore(home / "lancedb").read(CALLS, ["sample"], "partition_key = 'samples/family_trio.vcf'")["sample"].to_pylist()
    assert per_sample == {s: stored.count(s) for s in set(stored)}
    consequences = metadata["consequence_by_impact"].value.records
    assert sum(r.data["total"] for r in consequences) == VariantStore(home / "lancedb").count("file_variants", "partition_key = 'samples/family_trio.vcf'")
    # The link leads to that page of a running explorer.
    base, _ = explorer
    assert urllib.request.urlopen(base + "/file/samples%2Ffamily_trio.vcf").status == 200
