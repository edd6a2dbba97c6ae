#!/usr/bin/env python3
"""Refresh README.md's Quick start with the real output of its commands, at 100 columns.

Runs each command on the bundled sample in a throw-away state dir (RINGS_STATE_DIR, so the commands
shown are the ones a user types) and replaces the first code block under `## Quick start`.
Usage: `make readme` (or `.venv/bin/python sample_data/readme_quickstart.py`).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    "rings ingest sample_data/access.log",
    "rings report --limit 3",
    "rings report --tenant alice.example --start 2025-12-02 --end 2025-12-03 --compare --limit 3",
)


def transcript(state: Path) -> str:
    env = {**os.environ, "RINGS_STATE_DIR": str(state), "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    rings = Path(sys.executable).parent / "rings"
    out = []
    for command in COMMANDS:
        args = [str(rings), *command.split()[1:]]
        proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        body = "\n".join(line.rstrip() for line in proc.stdout.rstrip("\n").splitlines())
        out.append(f"$ {command}\n{body}")
    return "\n\n".join(out) + "\n"


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        block = transcript(Path(tmp) / "state")
    new, n = re.subn(
        r"(## Quick start\n\n```\n)(.*?)(```\n)", lambda m: m[1] + block + m[3], text, count=1, flags=re.S
    )
    if n != 1:
        raise SystemExit("README.md has no code block under '## Quick start'")
    readme.write_text(new)
    print("README.md Quick start refreshed" if new != text else "README.md Quick start unchanged")


if __name__ == "__main__":
    main()
