#!/usr/bin/env python3
"""doctor over tests/doctor_corpus/ (or the scripts named): one line per script, then the
detection and false-alarm rates. Not a test (tests/test_doctor.py asserts the targets)."""
import sys
import tempfile
from pathlib import Path

from debuglab import corpus

ROOT = Path(__file__).resolve().parent.parent
paths = [Path(p) for p in sys.argv[1:]] or [ROOT / "tests" / "doctor_corpus"]
scripts = [s for p in paths for s in (corpus.collect(p) if p.is_dir() else [corpus.read(p)])]
with tempfile.TemporaryDirectory(prefix="doctor-corpus-") as runs:
    print(corpus.table(corpus.run_all(scripts, Path(runs))))
