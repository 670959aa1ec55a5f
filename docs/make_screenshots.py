"""Screenshots of the explorer's pages for the README: `.venv/bin/python docs/make_screenshots.py`.

Ingests the bundled samples into a temporary home, loads the trio's pedigree, serves the explorer on a
free loopback port and photographs each page type with Debian's chromium (Playwright), into docs/."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = {
    "search": "/?q=BRCA1+pathogenic",
    "variant": None,  # the first search result
    "gene": "/gene/SCN1A",
    "sample": "/sample/PROBAND?question=de-novo",
    "file": "/file/samples%2Ffamily_trio.vcf",
    "folders": "/folders",
}


def main() -> int:
    from playwright.sync_api import sync_playwright

    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run([bin_dir / "vcf-pipeline", "ingest", "--home", home, REPO / "data" / "samples"], check=True, env=env)
        subprocess.run([bin_dir / "vcf-pipeline", "samples", "load", "--home", home, REPO / "data" / "samples" / "family_trio.ped"], check=True, env=env)
        (home / "incoming").mkdir(exist_ok=True)
        shutil.copyfile(REPO / "data" / "samples" / "clinvar_sites.vcf", home / "incoming" / "new_batch.vcf")  # not ingested yet
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([bin_dir / "vcf-pipeline", "serve", "--home", home, "--port", str(port)], env=env, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/folders", timeout=5)
                    break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1360, "height": 900})
                for name, path in PAGES.items():
                    if path is None:
                        page.goto(base + PAGES["search"])
                        page.click("table.results tbody tr:first-child a")
                    else:
                        page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(REPO / "docs" / f"explorer-{name}.png"), full_page=False)
                    print(f"docs/explorer-{name}.png")
                browser.close()
        finally:
            os.killpg(server.pid, 9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
