"""The boto3 client for a home's S3 target, from its settings: endpoint, region, and the credentials
of `s3.profile` in `s3.credentials_file` (an AWS shared-credentials file) when the configuration names
one, else boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles).

Naming the file in the configuration, instead of exporting keys in one shell, is what lets every
shell with the same home back up, list snapshots and restore."""

from __future__ import annotations

from vcf_pipeline.lib.backup.s3_errors import S3SettingsError
from vcf_pipeline.lib.backup.snapshots import SnapshotBucket


def s3_client(settings, max_attempts: int = 3):
    import boto3
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session()
    credentials = settings.credentials_file
    if credentials is not None:
        if not credentials.is_file():
            raise S3SettingsError(f"s3.credentials_file {credentials} does not exist (from {settings.origins['s3.credentials_file']})")
        session.set_config_variable("credentials_file", str(credentials))
    if settings["s3.profile"]:
        session.set_config_variable("profile", settings["s3.profile"])
    return boto3.Session(botocore_session=session).client(
        "s3",
        endpoint_url=settings["s3.endpoint"] or None,
        region_name=settings["s3.region"],
        config=Config(retries={"max_attempts": max_attempts, "mode": "standard"}),
    )


def snapshot_bucket(settings) -> SnapshotBucket:
    """The snapshots of a home's S3 target; S3SettingsError when no bucket is configured."""
    if not settings["s3.bucket"]:
        raise S3SettingsError(
            f"no S3 bucket configured: set s3.bucket in {settings.file} (or VCF_PIPELINE_S3_BUCKET), "
            "and s3.endpoint for a non-AWS store"
        )
    return SnapshotBucket(s3_client(settings), settings["s3.bucket"], settings["s3.prefix"])
