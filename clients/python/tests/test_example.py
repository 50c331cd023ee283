"""The example in clients/python/examples runs as the README shows it."""

import os
import runpy
import sys


def test_the_backup_example_runs_clean(capsys):
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "examples", "backup.py")
    sys.path.insert(0, os.path.join(here, ".."))
    runpy.run_path(path, run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("VSS_WS_STABLE") == 6, out
    assert "wall time: backup" in out
