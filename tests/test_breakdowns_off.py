"""`breakdowns = false` in rings.toml: browsers, OS, devices and countries are skipped entirely
(no user-agent parser, no country lookup, no rows; stored page views carry NULL there), while
everything else, not-found paths included, is what a run with breakdowns gives."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from rings_cli.core.state import StateDir
from tests.conftest import ROOT, report_json

sys.path.insert(0, str(ROOT / "tests"))
from breakdown_reference import generated_log

BREAKDOWN_KEYS = ("browsers", "os", "devices", "countries")
# Ingest in a fresh interpreter, then say whether the parser and the country lookup were imported.
INGEST_AND_SAY_IMPORTS = """
import sys
from rings_cli.cli import main
sys.argv = ["rings", *sys.argv[1:]]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
print("ua_parser" in sys.modules, "iptocc" in sys.modules)
"""


def ingest(state: StateDir, log: Path) -> str:
    """A batch run (no finalization: the stored page views stay to be looked at); its stdout."""
    args = ["ingest", "--state-dir", str(state.root), "-q", "--no-finalize", str(log)]
    done = subprocess.run(
        [sys.executable, "-c", INGEST_AND_SAY_IMPORTS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_breakdowns_false_skips_them_and_changes_nothing_else(tmp_path: Path, write_log) -> None:
    log = write_log(generated_log(2000, seed=5))
    on, off = StateDir(tmp_path / "on"), StateDir(tmp_path / "off")
    off.root.mkdir(mode=0o700)
    (off.root / "rings.toml").write_text("breakdowns = false\n")
    assert ingest(on, log) == "True True"
    # No country lookup; the user-agent parser still runs for the outdated-browser rule (issue 29),
    # unless that is off too.
    assert ingest(off, log) == "True False"
    both = StateDir(tmp_path / "both")
    both.root.mkdir(mode=0o700)
    (both.root / "rings.toml").write_text("breakdowns = false\noutdated_browsers = false\n")
    assert ingest(both, log) == "False False"

    args = ("--start", "2025-12-01", "--end", "2025-12-02", "--limit", "100000")
    with_them, without = report_json(on, *args), report_json(off, *args)
    for key in BREAKDOWN_KEYS:
        assert with_them[key], key
        assert without[key] == [], key
    assert without["not_found"] == with_them["not_found"] != []
    rest = set(with_them) - set(BREAKDOWN_KEYS)
    assert {k: without[k] for k in rest} == {k: with_them[k] for k in rest}

    stored = 0
    for path in sorted((off.root / "do").glob("*/*.sqlite")):
        con = sqlite3.connect(path)
        try:
            for key in BREAKDOWN_KEYS:
                table = {"browsers": "browsers", "os": "os", "devices": "devices", "countries": "countries"}[
                    key
                ]
                assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
            views = con.execute("SELECT browser, version, os, device, country FROM views").fetchall()
        finally:
            con.close()
        assert all(row == (None,) * 5 for row in views)
        stored += len(views)
    assert stored == with_them["totals"]["page_views"] > 0
