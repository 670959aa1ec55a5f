"""The boto3 client for a home's S3 target, from its settings: endpoint, region, and the credentials
of `s3.profile` in `s3.credentials_file` (an AWS shared-credentials file) when the configuration names
one, else boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles).

Naming the file in the configuration, instead of exporting keys in one shell, is what lets every
shell with the same home back up, list snapshots and restore. The same target serves a LanceDB that
lives in object storage (`lancedb_uri: s3://...`): `object_store_options` hands LanceDB the endpoint,
region and the credentials resolved the same way."""

from __future__ import annotations

from vcf_pipeline.lib.backup.s3_errors import S3SettingsError
from vcf_pipeline.lib.backup.snapshots import SnapshotBucket


def _session(settings):
    import botocore.session

    session = botocore.session.Session()
    credentials = settings.credentials_file
    if credentials is not None:
        if not credentials.is_file():
            raise S3SettingsError(f"s3.credentials_file {credentials} does not exist (from {settings.origins['s3.credentials_file']})")
        session.set_config_variable("credentials_file", str(credentials))
    if settings["s3.profile"]:
        session.set_config_variable("profile", settings["s3.profile"])
    return session


def s3_client(settings, max_attempts: int = 3):
    import boto3
    from botocore.config import Config

    return boto3.Session(botocore_session=_session(settings)).client(
        "s3",
        endpoint_url=settings["s3.endpoint"] or None,
        region_name=settings["s3.region"],
        config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
    )


def object_store_options(settings) -> dict[str, str]:
    """LanceDB's `storage_options` for the home's S3 target: endpoint (plain HTTP allowed for a local
    server), region, and the credentials of the configured profile or boto3's chain."""
    options = {"region": settings["s3.region"]}
    if settings["s3.endpoint"]:
        options["endpoint"] = settings["s3.endpoint"]
        options["allow_http"] = str(settings["s3.endpoint"].startswith("http://")).lower()
    credentials = _session(settings).get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options["aws_access_key_id"], options["aws_secret_access_key"] = frozen.access_key, frozen.secret_key
        if frozen.token:
            options["aws_session_token"] = frozen.token
    return options


def snapshot_bucket(settings) -> SnapshotBucket:
    """The snapshots of a home's S3 target; S3SettingsError when no bucket is configured."""
    if not settings["s3.bucket"]:
        raise S3SettingsError(
            f"no S3 bucket configured: set s3.bucket in {settings.file} (or VCF_PIPELINE_S3_BUCKET), "
            "and s3.endpoint for a non-AWS store"
        )
    return SnapshotBucket(s3_client(settings), settings["s3.bucket"], settings["s3.prefix"])
