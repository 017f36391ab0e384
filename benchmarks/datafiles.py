"""Start-up cost of the data files a supervisor edits: menu, hours, scorecard, sampling and routing policy.

    .venv/bin/python benchmarks/datafiles.py            # cold (fresh process) and warm load times

cold: a fresh interpreter imports the loaders and reads every file once (what ``hotline serve`` and a
pipeline worker pay at start); warm: one more read of each file in a running process, caches bypassed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD = """
import time
t0 = time.perf_counter()
from ivr.hours import load_hours
from ivr.menu import load_menu
from ivr.route_files import load_policy as load_route_policy, load_synonyms
from qa.sampling import load_policy
from qa.scorecard import load_scorecard
t1 = time.perf_counter()
load_menu("ivr/menus/950618.yaml"); load_hours("ivr/menus/hours.yaml"); load_scorecard(); load_policy()
load_route_policy(); load_synonyms()
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f}")
"""


def cold(repeat: int) -> tuple[float, float, float]:
    """Median (imports ms, first loads ms, CPU ms of the whole interpreter) over ``repeat`` fresh processes.

    CPU time (user + system) is the steadier figure on a shared machine; the other two are wall time."""
    imports, loads, cpu = [], [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        a, b = out.stdout.split()
        imports.append(float(a))
        loads.append(float(b))
    return statistics.median(imports), statistics.median(loads), statistics.median(cpu)


def warm(number: int) -> dict[str, float]:
    """Milliseconds per read of each file in a warm process (the loaders' own caches bypassed)."""
    from ivr.hours import load_hours
    from ivr.menu import load_menu
    from ivr.route_files import load_policy as load_route_policy
    from ivr.route_files import load_synonyms
    from qa import sampling, scorecard

    calls = {
        "menu": lambda: load_menu(ROOT / "ivr/menus/950618.yaml"),
        "hours": lambda: load_hours(ROOT / "ivr/menus/hours.yaml"),
        "scorecard": lambda: scorecard._load.__wrapped__(str(scorecard.DEFAULT_PATH)),
        "sampling policy": lambda: sampling._load_policy.__wrapped__(str(sampling.DEFAULT_POLICY_PATH)),
        "route policy": load_route_policy,
        "route synonyms": load_synonyms,
    }
    out: dict[str, float] = {}
    for name, fn in calls.items():
        fn()
        out[name] = min(timeit.repeat(fn, number=number, repeat=5)) / number * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="fresh processes for the cold figure")
    ap.add_argument("--number", type=int, default=20, help="reads per timing in the warm figures")
    args = ap.parse_args()
    imports, loads, cpu = cold(args.repeat)
    print(f"cold: imports {imports:.0f} ms, first load of all files {loads:.0f} ms, interpreter CPU {cpu:.0f} ms")
    for name, ms in warm(args.number).items():
        print(f"warm: {name:16s} {ms:7.2f} ms")


if __name__ == "__main__":
    main()
