"""`make dev` as a newcomer runs it: the UI, the daemon and the local S3 server come up; a second
shell with nothing exported backs up, lists snapshots and restores into a fresh home given the same
S3 settings; and TERM stops everything, three times in a row, leaving no process of ours (checked by
process group)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vcf_pipeline.lib.backup.local_s3 import free_port
from vcf_pipeline.lib.system.process_groups import start_group
from vcf_pipeline_tests.conftest import REPO

CLI = Path(sys.executable).parent / "vcf-pipeline"
START_S = 300


def _plain_env() -> dict:
    """A shell's environment with nothing of ours exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("VCF_PIPELINE_", "AWS_", "DAGSTER_"))}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return found


def _descendant_groups(root: int) -> set[int]:
    """The process groups of `root` and everything it started."""
    table = _processes()
    pids, groups = {root}, set()
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _, _) in table.items():
            if ppid in pids and pid not in pids:
                pids.add(pid)
                changed = True
    for pid in pids:
        if pid in table:
            groups.add(table[pid][1])
    return groups


def _running_in(groups: set[int]) -> list[int]:
    return [pid for pid, (_, pgid, state) in _processes().items() if pgid in groups and state != "Z"]


class Dev:
    def __init__(self, home: Path):
        self.home, self.port, self.s3_port, self.explorer_port = home, free_port(), free_port(), free_port()
        self.process: subprocess.Popen | None = None
        self.groups: set[int] = set()

    def start(self) -> None:
        log = open(self.home.parent / "make-dev.log", "ab")
        self.process = start_group(
            ["make", "--no-print-directory", "dev", f"HOME_DIR={self.home}", f"PORT={self.port}", f"S3_PORT={self.s3_port}",
             f"EXPLORER_PORT={self.explorer_port}"],
            cwd=REPO, env=_plain_env(), stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_S
        while not (_listening(self.port) and _listening(self.s3_port) and _listening(self.explorer_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make dev did not come up:\n{self.log_tail()}")
            time.sleep(1)
        self.groups |= _descendant_groups(self.process.pid)

    def stop_with_term(self) -> float:
        """TERM to `make` alone, as `kill <pid>` would send it; seconds until it exited."""
        self.groups |= _descendant_groups(self.process.pid)
        started = time.monotonic()
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make dev still running 60 s after TERM:\n{self.log_tail()}")
        return time.monotonic() - started

    def kill_leftovers(self) -> None:
        for pgid in self.groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def log_tail(self) -> str:
        return "\n".join((self.home.parent / "make-dev.log").read_text(errors="replace").splitlines()[-40:])


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args, "--home", str(home)], cwd=REPO, env=_plain_env(), capture_output=True, text=True, timeout=600)


def test_make_dev_serves_a_second_shell_and_stops_on_term_twice(tmp_path):
    home = tmp_path / "home"
    dev = Dev(home)
    try:
        for attempt in range(2):  # a second start finds what the first stop left, and stops as cleanly
            dev.start()
            if attempt == 0:
                # A second shell: only the repo as working folder, nothing exported.
                backup = _cli("backup", home=home)
                assert backup.returncode == 0, backup.stdout + backup.stderr
                snapshot_id = backup.stdout.split()[1]
                listed = _cli("snapshots", "--json", home=home)
                assert listed.returncode == 0, listed.stderr
                assert {r["snapshot"]: r["complete"] for r in json.loads(listed.stdout)}[snapshot_id]

                fresh = tmp_path / "fresh"
                (fresh / "s3").mkdir(parents=True)
                shutil.copy(home / "vcf-pipeline.yaml", fresh / "vcf-pipeline.yaml")
                shutil.copy(home / "s3" / "credentials", fresh / "s3" / "credentials")
                restored = _cli("restore", "--snapshot", snapshot_id, home=fresh)
                assert restored.returncode == 0, restored.stdout + restored.stderr
                tables = [json.loads(_cli("tables", "--json", home=h).stdout) for h in (home, fresh)]
                assert tables[0]["lancedb"] and tables[0] == tables[1]
            seconds = dev.stop_with_term()
            assert seconds < 30, f"make dev took {seconds:.0f}s to stop"
            deadline = time.monotonic() + 15  # the groups' last members are going
            while _running_in(dev.groups) and time.monotonic() < deadline:
                time.sleep(0.5)
            left = _running_in(dev.groups)
            assert not left, f"still running after TERM #{attempt + 1}: {left}\n{dev.log_tail()}"
            assert not _listening(dev.port) and not _listening(dev.s3_port) and not _listening(dev.explorer_port)
    finally:
        dev.kill_leftovers()


def test_the_s3_server_alone_stops_on_term_with_its_weed_process(tmp_path):
    port = free_port()
    env = {**_plain_env(), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local-secret"}
    server = start_group([str(CLI), "s3-server", "--home", str(tmp_path), "--port", str(port)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    groups = {server.pid}
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()
            time.sleep(0.3)
        groups |= _descendant_groups(server.pid)
        os.kill(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not _running_in(groups) and not _listening(port)
    finally:
        for pgid in groups:  # whatever a failed assertion left
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
