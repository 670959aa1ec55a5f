"""Backups to, and restores from, a real S3 server (SeaweedFS) started by the tests on free ports.

Each home names the server in its configuration file, with the keys in an owner-only AWS
shared-credentials file beside it, as `make dev` does: nothing is exported. Each test makes the
snapshots it looks at, so the tests pass alone and in any order."""

from __future__ import annotations

import secrets
import shutil

import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline.instance.in_process_runs import back_up, ingest_paths
from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
from vcf_pipeline.lib.backup.snapshots import SnapshotBucket, scan_folder
from vcf_pipeline.lib.embedding.embedder import Embedder
from vcf_pipeline.lib.stores.graph_store import GraphStore
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline_tests.conftest import SHARED_VCF
from vcf_pipeline_tests.files import write_settings

FIRST = [SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz", SHARED_VCF / "htslib__test__vcf44_1.vcf"]
LATER = SHARED_VCF / "gatk__SVAnnotate__integration.vcf.gz"
BUCKET = "vcf-backups"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A SeaweedFS server with random credentials."""
    access, secret = "test" + secrets.token_hex(4), secrets.token_hex(16)
    server = SeaweedServer(tmp_path_factory.mktemp("s3"), access, secret, s3_port=0).start()
    try:
        yield server
    finally:
        server.stop()


def point_at(server: SeaweedServer, home, prefix: str = "lab", secret: str | None = None):
    """`home`'s configuration naming the server; its keys in an owner-only credentials file."""
    home.mkdir(parents=True, exist_ok=True)
    credentials = home / "s3-credentials"
    credentials.write_text(f"[lab]\naws_access_key_id = {server.access_key}\naws_secret_access_key = {secret or server.secret_key}\n")
    credentials.chmod(0o600)
    write_settings(home, {"s3": {"endpoint": server.endpoint, "bucket": BUCKET, "prefix": prefix, "profile": "lab",
                                 "credentials_file": "s3-credentials"}})
    return home


@pytest.fixture(scope="module")
def home(s3, tmp_path_factory):
    home = point_at(s3, tmp_path_factory.mktemp("backup_home"))
    assert all(s.ok for s in ingest_paths(home, FIRST))
    return home


def bucket(server: SeaweedServer) -> SnapshotBucket:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1",
    )
    return SnapshotBucket(client, BUCKET, "lab")


def state(home):
    """Row counts of both stores and the top search hit for a gene query."""
    lance, graph = VariantStore(home / "lancedb"), GraphStore(home / "kuzu" / "graph.kuzu")
    vector = Embedder().encode(["SAMD11 missense variant"])[0]
    top = lance.search(vector, limit=3, columns=["variant_id"])["variant_id"].to_pylist()
    return {t: v["rows"] for t, v in lance.table_stats().items()}, graph.counts(), top


def test_backup_delete_restore_gives_the_same_stores_and_search_result(s3, home):
    before = state(home)
    local_files = scan_folder(home / "lancedb"), scan_folder(home / "kuzu")
    summary = back_up(home)
    assert summary.ok, summary.error
    assert (scan_folder(home / "lancedb"), scan_folder(home / "kuzu")) == local_files  # a backup only reads the stores
    assert summary.checks == {"lancedb_backup_objects_present": True, "kuzu_backup_objects_present": True}
    assert summary.stores["lancedb"]["bytes_uploaded"] > 0 and summary.stores["kuzu"]["bytes_uploaded"] > 0
    size, unit = summary.stores["kuzu"]["uploaded_size"].split()  # beside the byte count, in units a person reads
    assert unit in ("KiB", "MiB") and float(size) * {"KiB": 1024, "MiB": 1024**2}[unit] == pytest.approx(summary.stores["kuzu"]["bytes_uploaded"], rel=0.06)
    shutil.rmtree(home / "lancedb")
    shutil.rmtree(home / "kuzu")
    assert main(["restore", "--home", str(home), "--snapshot", summary.snapshot_id]) == 0
    assert state(home) == before
    assert main(["restore", "--home", str(home)]) == 2  # the stores exist now: refused without --force


def test_backups_upload_only_what_the_bucket_lacks(s3, home):
    assert back_up(home).ok
    unchanged = back_up(home)
    assert unchanged.ok, unchanged.error
    assert {s: m["bytes_uploaded"] for s, m in unchanged.stores.items()} == {"lancedb": 0, "kuzu": 0}
    assert unchanged.stores["lancedb"]["bytes_reused"] > 0

    previous = bucket(s3).manifests()[unchanged.snapshot_id]
    assert all(s.ok for s in ingest_paths(home, [LATER]))
    grown = back_up(home)
    assert grown.ok, grown.error
    current = bucket(s3).manifests()[grown.snapshot_id]
    for store in ("lancedb", "kuzu"):
        known = {f.sha256 for f in previous[store].files}
        new_bytes = sum({f.sha256: f.size for f in current[store].files if f.sha256 not in known}.values())
        assert grown.stores[store]["bytes_uploaded"] == new_bytes > 0
        assert grown.stores[store]["bytes_reused"] == current[store].size - new_bytes
    assert grown.stores["lancedb"]["bytes_uploaded"] < current["lancedb"].size  # incremental, not a full copy


def test_a_server_stopped_mid_backup_leaves_no_complete_snapshot_and_the_next_backup_works(s3, home):
    snapshots = bucket(s3)
    root = home / "lancedb"
    files = scan_folder(root)
    # Make every file new to the bucket, under another prefix, so the upload has many steps to break.
    fresh = SnapshotBucket(snapshots.client, BUCKET, "interrupted")
    with pytest.raises(Exception, match="(?i)connect|endpoint"):
        fresh.back_up("20000101T000000Z-stopped", "lancedb", files, root, {}, on_uploaded=lambda record: s3.stop())
    s3.start()
    assert fresh.manifests() == {}  # blobs were sent, but no manifest: the attempt never looks complete
    assert fresh.stored_blobs()

    s3.stop()
    down = back_up(home)  # through Dagster: retried with backoff, then the run fails clearly
    assert not down.ok and "127.0.0.1" in down.error, down.error
    s3.start()
    before = set(snapshots.manifests())
    after = back_up(home)
    assert after.ok, after.error
    assert set(snapshots.manifests()) - before == {after.snapshot_id}


def test_a_restore_of_an_altered_object_is_refused_naming_it(s3, home, tmp_path, capsys):
    snapshots = bucket(s3)
    backup = back_up(home)
    assert backup.ok, backup.error
    latest = snapshots.complete_snapshots()
    snapshot_id = backup.snapshot_id
    point_at(s3, tmp_path)
    victim = max(latest[snapshot_id]["lancedb"].files, key=lambda f: f.size)
    key = snapshots.blob_key(victim.sha256)
    original = snapshots.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    snapshots.client.put_object(Bucket=BUCKET, Key=key, Body=original[:-1] + bytes([original[-1] ^ 1]))
    try:
        assert main(["restore", "--home", str(tmp_path), "--snapshot", snapshot_id]) == 1
        err = capsys.readouterr().err
        assert f"lancedb/{victim.path} failed its checksum" in err and key in err
        assert not (tmp_path / "lancedb").exists() and not (tmp_path / "kuzu").exists()  # nothing half-restored
    finally:
        snapshots.client.put_object(Bucket=BUCKET, Key=key, Body=original)

    # What the `*_backup_objects_present` checks compute: a missing object is named.
    manifest = latest[snapshot_id]["kuzu"]
    [graph_file] = manifest.files
    graph_key = snapshots.blob_key(graph_file.sha256)
    body = snapshots.client.get_object(Bucket=BUCKET, Key=graph_key)["Body"].read()
    snapshots.client.delete_object(Bucket=BUCKET, Key=graph_key)
    try:
        assert snapshots.missing_objects(manifest) == ["kuzu/graph.kuzu"]
    finally:
        snapshots.client.put_object(Bucket=BUCKET, Key=graph_key, Body=body)
    assert snapshots.missing_objects(manifest) == []


def test_retention_keeps_every_file_a_kept_snapshot_needs(s3, tmp_path):
    # A prefix of its own: pruning it leaves the other tests' snapshots alone.
    home = point_at(s3, tmp_path / "home", prefix="retention")
    assert ingest_paths(home, [FIRST[1]])[0].ok
    for n in range(3):  # three snapshots, each with files the others lack
        added = ["add-variant", "--build", "GRCh38", "--home", str(home), "--chrom", "1", "--pos", str(1000 + n), "--ref", "A", "--alt", "G", "--gene-symbol", "BRCA2"]
        assert main(added) == 0
        assert back_up(home).ok
    snapshots = SnapshotBucket(bucket(s3).client, BUCKET, "retention")
    assert len(snapshots.complete_snapshots()) == 3
    dropped, blobs = snapshots.prune(keep=1, grace_s=0)
    kept = snapshots.complete_snapshots()
    assert len(kept) == 1 and dropped and blobs > 0  # the LanceDB and Kuzu files of older versions went
    [snapshot_id] = kept
    assert snapshots.missing_objects(kept[snapshot_id]["lancedb"]) == snapshots.missing_objects(kept[snapshot_id]["kuzu"]) == []
    restored = point_at(s3, tmp_path / "restored", prefix="retention")
    assert main(["restore", "--home", str(restored), "--snapshot", snapshot_id]) == 0
    assert state(restored)[:2] == state(home)[:2]


def test_a_home_with_nothing_ingested_yet_backs_up_and_restores(s3, tmp_path):
    empty = back_up(point_at(s3, tmp_path / "empty"))
    assert empty.ok, empty.error
    assert {s: m["files"] for s, m in empty.stores.items()} == {"lancedb": 0, "kuzu": 0}
    assert main(["restore", "--home", str(point_at(s3, tmp_path / "restored")), "--snapshot", empty.snapshot_id]) == 0
    assert (tmp_path / "restored" / "lancedb").is_dir() and (tmp_path / "restored" / "kuzu").is_dir()


def _plant_manifests(snapshots: SnapshotBucket, snapshot_id: str, lancedb_body: bytes, kuzu_from: str) -> None:
    """A snapshot whose LanceDB manifest is `lancedb_body` and whose Kuzu manifest is a valid copy."""
    kuzu = snapshots.manifests()[kuzu_from]["kuzu"]
    kuzu.snapshot_id = snapshot_id
    snapshots.client.put_object(Bucket=BUCKET, Key=snapshots.manifest_key(snapshot_id, "lancedb"), Body=lancedb_body)
    snapshots.client.put_object(Bucket=BUCKET, Key=snapshots.manifest_key(snapshot_id, "kuzu"), Body=kuzu.to_json().encode())


def test_manifests_naming_paths_outside_the_store_are_refused_and_never_hide_good_snapshots(s3, home, tmp_path, capsys):
    import json

    snapshots = bucket(s3)
    backup = back_up(home)
    assert backup.ok, backup.error
    good = backup.snapshot_id
    blob = snapshots.manifests()[good]["lancedb"].files[0]
    escapes = {
        "99990101T000000Z-climbs": f"../../../evil_escape_{secrets.token_hex(4)}.txt",
        "99990102T000000Z-absolute": f"/tmp/evil_absolute_{secrets.token_hex(4)}.txt",
    }
    for snapshot_id, path in escapes.items():
        body = {"snapshot_id": snapshot_id, "store": "lancedb", "created_at": "2026-01-01T00:00:00+00:00",
                "files": [{"path": path, "size": blob.size, "sha256": blob.sha256}], "tables": {}}
        _plant_manifests(snapshots, snapshot_id, json.dumps(body).encode(), good)
    _plant_manifests(snapshots, "99990103T000000Z-garbled", b"{not json", good)
    target = point_at(s3, tmp_path / "restore_home")
    try:
        for snapshot_id, path in escapes.items():
            assert main(["restore", "--home", str(target), "--snapshot", snapshot_id]) == 1
            err = capsys.readouterr().err
            assert "broken manifest" in err and "not a plain relative path" in err, err
            outside = (target / f".restore-{snapshot_id}" / "lancedb" / path).resolve()
            assert not outside.exists()
        assert main(["restore", "--home", str(target), "--snapshot", "99990103T000000Z-garbled"]) == 1
        assert "unreadable manifest" in capsys.readouterr().err
        assert not (target / "lancedb").exists() and not (target / "kuzu").exists()

        # Listing shows the broken ones for what they are; the newest good snapshot is still the default.
        assert main(["snapshots", "--json", "--home", str(home)]) == 0
        rows = {r["snapshot"]: r for r in json.loads(capsys.readouterr().out)}
        assert {k for k, r in rows.items() if r["broken"]} == {*escapes, "99990103T000000Z-garbled"}
        assert rows[good]["complete"] and not rows["99990101T000000Z-climbs"]["complete"]
        assert main(["restore", "--home", str(target)]) == 0
        assert f"restored snapshot {good}" in capsys.readouterr().out
    finally:
        for snapshot_id in [*escapes, "99990103T000000Z-garbled"]:
            for store in ("lancedb", "kuzu"):
                snapshots.client.delete_object(Bucket=BUCKET, Key=snapshots.manifest_key(snapshot_id, store))


def test_a_damaged_blob_is_reported_by_the_check_and_uploaded_again_by_the_next_backup(s3, home, tmp_path):
    snapshots = bucket(s3)
    first = back_up(home)
    assert first.ok, first.error
    manifest = snapshots.manifests()[first.snapshot_id]["lancedb"]
    victim = max(manifest.files, key=lambda f: f.size)
    key = snapshots.blob_key(victim.sha256)
    original = snapshots.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    damaged = original[:100] + bytes([original[100] ^ 0xFF]) + original[101:]  # same size, other bytes
    snapshots.client.put_object(Bucket=BUCKET, Key=key, Body=damaged)
    assert snapshots.missing_objects(manifest) == [f"lancedb/{victim.path}"]  # what lancedb_backup_objects_present computes

    healed = back_up(home)
    assert healed.ok, healed.error
    assert healed.stores["lancedb"]["bytes_uploaded"] == victim.size  # that blob, and nothing else
    assert healed.checks == {"lancedb_backup_objects_present": True, "kuzu_backup_objects_present": True}
    assert snapshots.client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == original
    assert main(["restore", "--home", str(point_at(s3, tmp_path)), "--snapshot", healed.snapshot_id]) == 0
    assert state(tmp_path)[:2] == state(home)[:2]


def test_s3_problems_are_one_line_errors(s3, home, tmp_path, monkeypatch, capsys):
    wrong = point_at(s3, tmp_path / "wrong", secret="not-the-secret")
    assert main(["snapshots", "--home", str(wrong)]) == 1
    err = capsys.readouterr().err
    assert "refused the credentials" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert main(["restore", "--home", str(wrong)]) == 1
    assert "refused the credentials" in capsys.readouterr().err

    # Environment variables override the configuration file.
    monkeypatch.setenv("VCF_PIPELINE_S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert main(["snapshots", "--home", str(home)]) == 1
    assert "cannot reach the S3 endpoint http://127.0.0.1:9" in capsys.readouterr().err
    monkeypatch.undo()

    monkeypatch.setenv("VCF_PIPELINE_S3_BUCKET", "ab")
    assert main(["backup", "--home", str(home)]) == 2
    assert "bucket name 'ab' is not valid" in capsys.readouterr().err
    assert main(["snapshots", "--home", str(home)]) == 2
    monkeypatch.undo()

    (home / "s3-credentials").rename(home / "moved")
    try:
        assert main(["snapshots", "--home", str(home)]) == 2
        assert "s3.credentials_file" in capsys.readouterr().err
    finally:
        (home / "moved").rename(home / "s3-credentials")


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", "", "a/\0"])
def test_manifest_paths_must_stay_inside_the_store(path):
    from vcf_pipeline.lib.backup.snapshots import ManifestError, check_relative_path

    with pytest.raises(ManifestError, match="not a plain relative path"):
        check_relative_path(path)
    assert check_relative_path("data/variants.lance/_versions/1.manifest") == "data/variants.lance/_versions/1.manifest"
