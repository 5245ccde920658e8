"""Writes the hashed lock files CI and the Docker image install from: ``python3 scripts/lock.py``.

* ``requirements.lock``     — the bot's dependencies (pyproject.toml ``dependencies``), for the image;
* ``requirements-dev.lock`` — the same plus the ``dev`` extra (tests, linters, benchmarks), for CI.

Both are made by ``uv pip compile --generate-hashes --universal`` for Python 3.11 (the oldest Python
the project supports, and the one in deploy/Dockerfile), so ``pip install --require-hashes -r`` on
any platform refuses a file whose bytes differ from the ones resolved here. Run it after changing
the dependencies in pyproject.toml (tests/test_lock.py fails until you do) and commit both files.
``--upgrade`` takes the newest versions the ranges allow instead of keeping the current pins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"requirements.lock": [], "requirements-dev.lock": ["--extra", "dev"]}


def main() -> int:
    upgrade = ["--upgrade"] if "--upgrade" in sys.argv[1:] else []
    for name, extra in LOCKS.items():
        command = [
            sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", *extra, *upgrade,
            "--generate-hashes", "--universal", "--python-version", "3.11",
            "--index-url", "https://pypi.org/simple", "--no-header", "--quiet",
            "--output-file", name,
        ]
        print("$", " ".join(command[2:]), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
        text = (ROOT / name).read_text()
        header = (
            f"# {name}: pinned with hashes by `python3 scripts/lock.py` (uv pip compile --generate-hashes\n"
            "# --universal --python-version 3.11) from pyproject.toml. Do not edit by hand.\n"
        )
        (ROOT / name).write_text(header + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
