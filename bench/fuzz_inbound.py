"""The 10,000-example inbound fuzz run (tests/federation/test_fuzz_inbound.py), with its figures.

One command: `make fuzz`, or `.venv/bin/python bench/fuzz_inbound.py [N]`. It runs the property
test with N random examples (10,000 by default; a new random seed each run) on SQLite, then appends
to bench/RESULTS.md how many examples ran, their outcomes (HTTP status and the stored row's final
state), the most frequent reasons, the time taken and the peak memory of the test process.
Exit status 1 when the property failed (the falsifying example is printed by hypothesis).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import append  # noqa: E402

TEST = "tests/federation/test_fuzz_inbound.py::test_fuzz_inbound__hostile_documents_give_4xx_or_are_processed_without_partial_writes"


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(2**32)  # to replay a run
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "figures.json"
        env = {**os.environ, "CIVIC_FUZZ_EXAMPLES": str(examples), "CIVIC_FUZZ_REPORT": str(report)}
        env.pop("CIVIC_TEST_DATABASE_URL", None)  # SQLite: the suite covers PostgreSQL
        started = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
                              "-p", "no:logging", f"--hypothesis-seed={seed}", f"{TEST}[sqlite]"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        figures = json.loads(report.read_text()) if report.exists() else {"examples": 0, "outcomes": {}}
    passed = run.returncode == 0
    ran = figures["examples"]
    outcomes = ", ".join(f"{key}: {count:,}" for key, count in figures["outcomes"].items())
    reasons = "; ".join(f"{state} “{reason}” ×{count}" for state, reason, count in figures.get("reasons", [])[:12])
    lines = [
        f"command: `make fuzz` (bench/fuzz_inbound.py {examples} {seed}: the second number is the seed that "
        "replays this run), SQLite, one remote actor signing every POST, each activity processed before the next",
        f"property: {'held' if passed else 'FAILED (falsifying example in the pytest output)'} — only 2xx/4xx, "
        "nothing left received, failed rows have a reason, nothing written for what was refused or failed",
        f"examples run: {ran:,} of {examples:,} asked (hypothesis; a failing run stops early and shrinks)",
        f"outcomes (status, final row state): {outcomes}",
        f"most frequent reasons: {reasons}",
        f"time: {elapsed:.0f} s ({elapsed / max(ran, 1) * 1000:.1f} ms per example, POST + processing); "
        f"peak RSS of the test process: {peak_mb:.0f} MB",
    ]
    append("Inbound fuzzing (bench/fuzz_inbound.py)", lines)
    print("\n".join(lines))
    if not passed:  # the falsifying example and the failed assertion, not the whole log
        start = run.stdout.find("Falsifying example")
        print(run.stdout[start:start + 12_000] if start >= 0 else run.stdout[-12_000:], run.stderr[-2000:], sep="\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
