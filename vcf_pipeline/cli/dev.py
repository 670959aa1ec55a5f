"""`vcf-pipeline dev`: what `make dev` runs. The local S3 server (when the home's S3 target is the
local one), the variant explorer (`vcf-pipeline serve`) and `dg dev` (UI, daemon, code server), each
in its own process group; Ctrl-C or TERM stops every group within seconds, leaving no process behind.

`serve`: the explorer alone, on 127.0.0.1 (`explorer.port`, 3001 by default)."""

from __future__ import annotations

import os
import sys

from vcf_pipeline.cli.options import add_command, say, settings_of


def cmd_dev(args) -> int:
    from vcf_pipeline.instance.home import prepare_home
    from vcf_pipeline.lib.backup.dev_target import configure_dev_target, dev_credentials
    from vcf_pipeline.lib.backup.local_s3 import SeaweedServer
    from vcf_pipeline.lib.settings import Settings
    from vcf_pipeline.lib.system.process_groups import start_group, supervising

    settings = settings_of(args)
    prepare_home(settings)
    if configure_dev_target(settings.file, args.s3_port):
        say(f"backups go to the local S3 server: s3 section added to {settings.file}")
    settings = Settings.load(settings.home)
    local_endpoint = f"http://127.0.0.1:{args.s3_port}"
    children = []
    with supervising(children, args.grace, announce=lambda: say("stopping the UI, the daemon and the S3 server ...")) as run:
        if settings["s3.endpoint"] == local_endpoint:
            access, secret = dev_credentials(settings.home)
            server = SeaweedServer(settings.s3_folder, access, secret, s3_port=args.s3_port)
            children.append(server.start(log=settings.s3_folder / "server.log").process)
            say(f"S3 (SeaweedFS) on {server.endpoint}, data in {settings.s3_folder}")
        explorer_port = args.explorer_port or settings["explorer.port"]
        cli = os.path.join(os.path.dirname(sys.executable), "vcf-pipeline")
        children.append(start_group([cli, "serve", "--home", str(settings.home), "--port", str(explorer_port),
                                     "--dagster-url", f"http://127.0.0.1:{args.port}"]))  # fmt: skip
        say(f"variant explorer on http://127.0.0.1:{explorer_port}")
        dg = os.path.join(os.path.dirname(sys.executable), "dg")
        children.append(start_group([dg, "dev", "-h", "127.0.0.1", "-p", str(args.port)], cwd=args.project))
        say(f"Dagster UI on http://127.0.0.1:{args.port} (home {settings.home})")
        say(f"dg dev exited with {children[-1].wait()}")
    return 0 if run.stopped else 1


def add_commands(commands) -> None:
    from pathlib import Path

    p = add_command(commands, "dev", cmd_dev, "run the UI and the daemon (dg dev) and the local S3 server; Ctrl-C stops all of them")
    p.add_argument("--port", type=int, default=3000, help="UI port (default 3000)")
    p.add_argument("--s3-port", type=int, default=8333, help="local S3 server port (default 8333)")
    p.add_argument("--project", type=Path, default=Path.cwd(), help="the project folder (pyproject.toml with [tool.dg])")
    p.add_argument("--grace", type=float, default=10.0, help="seconds given to each process to stop before it is killed")
    p.add_argument("--explorer-port", type=int, help="variant explorer port (default: explorer.port, 3001)")

    p = add_command(commands, "serve", cmd_serve, "the variant explorer: a read-only web app on 127.0.0.1")
    p.add_argument("--port", type=int, help="default: explorer.port (3001)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; anything else exposes genotypes)")
    p.add_argument("--dagster-url", default="", help="the Dagster UI, for links to a file's runs")


def cmd_serve(args) -> int:
    import uvicorn

    from vcf_pipeline.explorer.app import make_app
    from vcf_pipeline.instance.home import prepare_home

    settings = settings_of(args)
    prepare_home(settings)  # DAGSTER_HOME for the watched-folders page
    port = args.port or settings["explorer.port"]
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: serving on {args.host}: the explorer has no login, and the store holds genotypes")
    say(f"variant explorer on http://{args.host}:{port} (home {settings.home})")
    uvicorn.run(make_app(settings, args.dagster_url), host=args.host, port=port, log_level="warning")
    return 0
