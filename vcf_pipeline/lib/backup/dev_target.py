"""The local S3 target of `make dev`: the SeaweedFS server's credentials in an owner-only AWS
shared-credentials file under the home, and an `s3:` section of the home's configuration naming
that file's profile, so any shell using the same home can back up, list snapshots and restore."""

from __future__ import annotations

import configparser
import os
import secrets
from pathlib import Path

import yaml

DEV_PROFILE = "vcf-pipeline-dev"
DEV_BUCKET = "vcf-pipeline"
CREDENTIALS = "s3/credentials"  # relative to the home


def dev_credentials(home: Path) -> tuple[str, str]:
    """(access key, secret) of the local server, made on first use and kept owner-only."""
    path = home / CREDENTIALS
    parser = configparser.ConfigParser()
    if path.exists():
        parser.read(path)
    if not parser.has_section(DEV_PROFILE):
        parser[DEV_PROFILE] = {"aws_access_key_id": DEV_PROFILE, "aws_secret_access_key": secrets.token_urlsafe(24)}
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            parser.write(out)
    os.chmod(path, 0o600)
    profile = parser[DEV_PROFILE]
    return profile["aws_access_key_id"], profile["aws_secret_access_key"]


def configure_dev_target(settings_file: Path, port: int) -> bool:
    """Add an `s3:` section pointing at the local server to the configuration file, unless it
    already has one (the person's own target wins). Appended as text: their comments stay."""
    text = settings_file.read_text() if settings_file.exists() else ""
    if "s3" in (yaml.safe_load(text) or {}):
        return False
    block = (
        "# Written by `make dev`: snapshots go to its local S3 server (SeaweedFS); its credentials are\n"
        f"# in {CREDENTIALS}, owner-only. Replace this section to back up elsewhere.\n"
        "s3:\n"
        f"  endpoint: http://127.0.0.1:{port}\n"
        f"  bucket: {DEV_BUCKET}\n"
        f"  profile: {DEV_PROFILE}\n"
        f"  credentials_file: {CREDENTIALS}\n"
    )
    fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(("\n" if text and not text.endswith("\n") else "") + block)
    return True
