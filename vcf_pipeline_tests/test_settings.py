"""One owner for every setting: the home's configuration file, environment variables over it, and
every command and step taking its stores from there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import ingest_paths
from vcf_pipeline.lib.settings import Settings, SettingsError
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline_tests.conftest import SAMPLES
from vcf_pipeline_tests.files import write_settings


def config_json(capsys, home: Path) -> dict:
    assert main(["config", "--json", "--home", str(home)]) == 0
    payload = json.loads(capsys.readouterr().out)
    return {row["key"]: (row["value"], row["from"]) for row in payload["settings"]}


def test_config_shows_each_value_and_where_it_came_from(tmp_path, capsys, monkeypatch):
    file = write_settings(tmp_path, {"embedding": {"batch_size": 32}, "s3": {"bucket": "lab-backups"}, "watch": {"settle_s": 2.5}})
    monkeypatch.setenv("VCF_PIPELINE_S3_BUCKET", "override-bucket")
    shown = config_json(capsys, tmp_path)
    assert shown["embedding.batch_size"] == (32, str(file))
    assert shown["watch.settle_s"] == (2.5, str(file))
    assert shown["s3.bucket"] == ("override-bucket", "$VCF_PIPELINE_S3_BUCKET")  # the environment wins
    assert shown["embedding.backend"] == ("onnx-int8", "default")
    assert shown["lancedb_uri"] == (str(tmp_path / "lancedb"), "default")


@pytest.mark.parametrize(
    ("written", "words"),
    [({"embeding": {"model": "x"}}, "unknown setting(s) embeding"), ({"s3": {"bucket": "b", "buckets": 1}}, "s3.buckets"),
     ({"watch": {"settle_s": "soon"}}, "watch.settle_s must be float"), ({"backup": {"keep": 2.5}}, "backup.keep must be int"),
     ("- a list", "expected a mapping")],
)
def test_a_bad_configuration_file_is_refused_naming_the_setting(tmp_path, capsys, written, words):
    if isinstance(written, str):
        (tmp_path / "vcf-pipeline.yaml").write_text(written)
    else:
        write_settings(tmp_path, written)
    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Settings.load(tmp_path)
    assert main(["status", "--home", str(tmp_path)]) == 2
    assert words in capsys.readouterr().err


def test_reference_data_per_build_per_source_per_file_and_from_the_environment(tmp_path, monkeypatch):
    write_settings(tmp_path, {
        "references": {"hg38": {"fasta": "ref/GRCh38.fa", "gff3": "ref/genes.gff3"}, "b37": {"fasta": "/ref/hs37d5.fa"}},
        "sources": {"lab": {"path": "drop", "build": "hg19", "reference": "ref/lab.fa"}},
    })
    monkeypatch.setenv("VCF_PIPELINE_REFERENCE_FASTA", str(tmp_path / "any.fa"))
    settings = Settings.load(tmp_path)
    lab = settings.identity_options("lab/a.vcf")
    assert (lab.build, lab.build_origin, lab.reference) == ("GRCh37", "`build:` of source 'lab'", tmp_path / "ref" / "lab.fa")
    assert lab.references == {"GRCh38": tmp_path / "ref" / "GRCh38.fa", "GRCh37": Path("/ref/hs37d5.fa")}
    assert lab.gene_models == {"GRCh38": tmp_path / "ref" / "genes.gff3"} and lab.any_reference == tmp_path / "any.fa"
    incoming = settings.identity_options("incoming/b.vcf")
    assert incoming.build is None and incoming.reference is None
    settings.source_folders().pin(["lab/a.vcf"], build="GRCh38", reference=tmp_path / "mine.fa")  # ingest --build --reference
    pinned = Settings.load(tmp_path).identity_options("lab/a.vcf")
    assert (pinned.build, pinned.build_origin, pinned.reference) == ("GRCh38", "vcf-pipeline ingest --build", tmp_path / "mine.fa")
    assert Settings.load(tmp_path).identity_options("lab/other.vcf").build == "GRCh37"  # the pin is for that file only


@pytest.mark.parametrize(
    ("written", "words"),
    [({"references": {"hg37": {"fasta": "a.fa"}}}, "unknown genome build 'hg37'"), ({"references": {"GRCh38": "a.fa"}}, "references.GRCh38"),
     ({"references": {"GRCh38": {"fasta": "a.fa", "gtf": "b"}}}, "references.GRCh38"),
     ({"sources": {"lab": {"path": "x", "build": "mm10"}}}, "source 'lab': unknown genome build 'mm10'")],
)
def test_bad_reference_data_is_refused_naming_it(tmp_path, written, words):
    write_settings(tmp_path, written)
    with pytest.raises((SettingsError, ValueError), match=words):
        Settings.load(tmp_path).identity_options("incoming/a.vcf")


def test_sources_come_from_the_file_and_the_old_sources_yaml_still_counts(tmp_path):
    write_settings(tmp_path, {"sources": {"lab": "drop", "vendor": {"path": "/data/vendor", "bad_records": "skip"}}})
    sources = Settings.load(tmp_path).source_folders()
    assert sources.folders["lab"] == tmp_path / "drop" and sources.bad_records_for("vendor/a.vcf") == "skip"
    assert sources.watched == ("incoming", "lab", "vendor")

    old = tmp_path / "old"
    old.mkdir()
    (old / "sources.yaml").write_text("sources:\n  legacy: /data/legacy\n")
    settings = Settings.load(old)
    assert settings.source_folders().folders["legacy"] == Path("/data/legacy")
    assert settings.origins["sources"] == str(old / "sources.yaml")


def test_every_query_command_honours_the_lancedb_uri(tmp_path, capsys, monkeypatch):
    elsewhere = tmp_path / "elsewhere" / "variants.lance"
    monkeypatch.setenv("VCF_PIPELINE_LANCEDB_URI", str(elsewhere))
    home = tmp_path / "home"
    assert ingest_paths(home, [SAMPLES / "clinvar_sites.vcf"])[0].ok
    assert not (home / "lancedb").exists() or not any((home / "lancedb").iterdir())  # nothing in the default place
    rows = VariantStore(elsewhere).count(VARIANTS)
    assert rows > 0

    def ok(*argv) -> str:
        code = main([*map(str, argv), "--home", str(home)])
        out, err = capsys.readouterr()
        assert code == 0, f"{argv}: {err}"
        return out

    assert len(json.loads(ok("search", "pathogenic", "--limit", 3, "--json"))["results"]) == 3
    assert json.loads(ok("filter", "pos > 0", "--limit", 1000, "--json"))["count"] == rows
    out = tmp_path / "all.parquet"
    assert json.loads(ok("export", "pos > 0", "--format", "parquet", "--out", out, "--json"))["rows"] == rows
    assert {t["table"]: t["rows"] for t in json.loads(ok("tables", "--json"))["lancedb"]}[VARIANTS] == rows
    assert "variant_id" in ok("schema", VARIANTS)
    status = json.loads(ok("status", "--json"))
    assert status["lancedb_uri"] == str(elsewhere) and status["lancedb"][VARIANTS]["rows"] == rows
    ok("add-variant", "--build", "GRCh38", "--chrom", "chr1", "--pos", 12345, "--ref", "A", "--alt", "G", "--gene-symbol", "TEST1")
    assert VariantStore(elsewhere).count(VARIANTS) == rows + 1
    ok("create-index", "gene_symbol", "--type", "BTREE")
    assert json.loads(ok("delete-variants", "gene_symbol = 'TEST1'", "--yes", "--json"))["deleted"] == 1

    monkeypatch.delenv("VCF_PIPELINE_LANCEDB_URI")  # without it, the default place: nothing there
    assert main(["search", "pathogenic", "--home", str(home)]) == 2
    assert f"no table 'variants' under {home / 'lancedb'}" in capsys.readouterr().err


def test_help_imports_only_what_it_needs():
    # DESIGN: `--help` in under half a second; measured here as "loads neither Dagster nor LanceDB".
    code = "import sys; from vcf_pipeline.cli.main import build_parser; build_parser(); print(sorted(m for m in ('dagster', 'lancedb', 'kuzu', 'torch') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
