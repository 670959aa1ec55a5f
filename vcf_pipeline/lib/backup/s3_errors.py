"""S3 problems in words: bucket names checked before any request, and one line for what went wrong
talking to the bucket (credentials, endpoint, missing bucket) instead of botocore's traceback."""

from __future__ import annotations

import re


class S3SettingsError(ValueError):
    """The bucket cannot be used as configured: its name, the endpoint or the credentials."""


_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def check_bucket_name(name: str) -> str:
    """`name` if S3 accepts it as a bucket name (checked before any request is made)."""
    if not isinstance(name, str) or not _BUCKET_NAME.fullmatch(name) or ".." in name or re.fullmatch(r"[\d.]+", name):
        raise S3SettingsError(
            f"bucket name {name!r} is not valid: 3-63 lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    return name


def describe_s3_error(exc: BaseException, endpoint: str | None, bucket: str) -> str | None:
    """One line saying what went wrong talking to S3 (credentials, endpoint, bucket), or None when
    `exc` is not an S3 connection or permission problem."""
    from botocore import exceptions as boto

    where = endpoint or "AWS S3"
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (f"no S3 credentials for {where}: name a credentials file and profile in the home's configuration "
                "(s3.credentials_file, s3.profile; `make dev` does), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, boto.EndpointConnectionError | boto.ConnectTimeoutError | boto.ConnectionClosedError):
        return f"cannot reach the S3 endpoint {where} ({type(exc).__name__}); is the server running?"
    if isinstance(exc, boto.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "InvalidToken", "ExpiredToken"):
            return f"{where} refused the credentials for bucket {bucket!r} ({code}): check s3.credentials_file and s3.profile (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        if code in ("NoSuchBucket", "404", "NotFound"):
            return f"bucket {bucket!r} does not exist at {where}"
        return f"S3 error from {where} for bucket {bucket!r}: {code} {exc.response.get('Error', {}).get('Message', '')}".strip()
    return None
