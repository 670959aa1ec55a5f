"""LanceDB in object storage by configuration only (`lancedb_uri: s3://...` with the home's S3
endpoint, region and credentials file), on a real SeaweedFS: the pipeline writes there, and every
command of another home with the same configuration reads the same tables."""

from __future__ import annotations

import json
import secrets

import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import back_up, ingest_paths
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
from vcf_pipeline.lib.backup.s3_client import s3_client
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline_tests.conftest import SAMPLES, expected_from_pysam
from vcf_pipeline_tests.files import write_settings

BUCKET = "variant-store"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = SeaweedServer(tmp_path_factory.mktemp("s3"), "test" + secrets.token_hex(4), secrets.token_hex(16), s3_port=0).start()
    try:
        home = configured(server, tmp_path_factory.mktemp("admin"), "unused")
        s3_client(Settings.load(home)).create_bucket(Bucket=BUCKET)
        yield server
    finally:
        server.stop()


def configured(server: SeaweedServer, home, database: str):
    """A home whose LanceDB is `s3://variant-store/<database>` on `server`, keys in its credentials file."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "s3-credentials").write_text(f"[lab]\naws_access_key_id = {server.access_key}\naws_secret_access_key = {server.secret_key}\n")
    write_settings(home, {"lancedb_uri": f"s3://{BUCKET}/{database}",
                          "s3": {"endpoint": server.endpoint, "bucket": BUCKET, "profile": "lab", "credentials_file": "s3-credentials"}})
    return home


def test_the_pipeline_and_every_command_use_a_lancedb_in_object_storage(s3, tmp_path, capsys):
    writer = configured(s3, tmp_path / "machine-a", "lancedb")
    [summary] = ingest_paths(writer, [SAMPLES / "family_trio.vcf"])
    assert summary.ok, summary.error
    assert not (writer / "lancedb").exists() or not any((writer / "lancedb").iterdir())  # nothing written locally
    objects = s3_client(Settings.load(writer)).list_objects_v2(Bucket=BUCKET, Prefix="lancedb/variants.lance/")
    assert objects["KeyCount"] > 0

    reader = configured(s3, tmp_path / "machine-b", "lancedb")  # another home, the same configuration
    expected = len(expected_from_pysam(SAMPLES / "family_trio.vcf")[0])
    assert main(["status", "--json", "--home", str(reader)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["lancedb_uri"] == f"s3://{BUCKET}/lancedb" and status["lancedb"][VARIANTS]["rows"] == expected
    assert main(["filter", "pos > 0", "--json", "--limit", "1000", "--home", str(reader)]) == 0
    assert len(json.loads(capsys.readouterr().out)["rows"]) == expected
    assert main(["search", "inherited disease variant", "--json", "--limit", "3", "--home", str(reader)]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 3


def test_a_backup_records_an_object_store_lancedb_and_copies_the_graph(s3, tmp_path, capsys):
    home = configured(s3, tmp_path / "home", "backed-up")
    assert ingest_paths(home, [SAMPLES / "family_trio.vcf"])[0].ok
    backup = back_up(home)
    assert backup.ok, backup.error
    lancedb, kuzu = backup.stores["lancedb"], backup.stores["kuzu"]
    assert "table versions recorded" in lancedb["object_store"] and lancedb["files"] == 0 and kuzu["files"] > 0
    assert lancedb["tables"][VARIANTS]["rows"] == len(expected_from_pysam(SAMPLES / "family_trio.vcf")[0])
