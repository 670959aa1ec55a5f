"""A real Postgres server for the tests: Debian's `postgresql` package (initdb, postgres), a fresh
cluster on a free loopback port, stopped with its process group. Postgres refuses to run as root, so
under root it runs as the `postgres` user the package creates."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vcf_pipeline.lib.system.process_groups import start_group, stop_groups

USER = "vcf"


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str = USER

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{db}"

    def execute(self, db: str, sql: str) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=db)
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction (a `with conn` block opens one)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            conn.close()


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"Postgres' {name} is not installed: apt-get install postgresql (.ci/run does)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    as_user: list[str] = []
    folder = tempfile.mkdtemp(prefix="vcf-pg-")
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(folder, "data"), _free_port()
    try:
        subprocess.run([*as_user, _binary("initdb"), "-D", data, "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        server = start_group([*as_user, _binary("postgres"), "-D", data, "-p", str(port), "-k", folder,
                              "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            postgres = Postgres(port)
            deadline = time.monotonic() + 60
            while True:
                try:
                    postgres.execute("postgres", "SELECT 1")
                    break
                except Exception:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("Postgres did not start") from None
                    time.sleep(0.2)
            yield postgres
        finally:
            stop_groups([server], grace_s=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
