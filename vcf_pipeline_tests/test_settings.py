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
