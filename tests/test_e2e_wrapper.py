"""Lets a normal pytest run include the real-browser tests: with FER_RUN_E2E=1 this runs
tests/e2e/run.sh (which needs root for its private network namespace) and expects it to pass."""
import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest

RUN_SH = Path(__file__).resolve().parent / "e2e" / "run.sh"


@pytest.mark.skipif(os.environ.get("FER_RUN_E2E") != "1" or os.environ.get("FER_E2E") == "1",
                    reason="set FER_RUN_E2E=1 to run tests/e2e/run.sh from here")
def test_browser_end_to_end_suite():
    proc = subprocess.run([str(RUN_SH), "-q"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    # The suite's own warnings (e.g. a START press the player ignored) reach this run's summary.
    for line in re.findall(r"UserWarning: (.*)", proc.stdout):
        warnings.warn(f"tests/e2e: {line[:2000]}", stacklevel=1)
