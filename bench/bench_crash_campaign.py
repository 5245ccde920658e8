"""The crash campaign with people who send again, several runs in a row (a script, not a test).

``python bench/bench_crash_campaign.py [--runs 3] [--conversations 40] [--kills 6]`` runs
tests/resend_campaign.py's campaign: the bot as a process killed with SIGKILL at random moments,
people who send the same again after 2–3.5 s of silence. Each run prints the five figures (updates
lost, updates handled twice, answers stored at the wrong step, people told about a step they cannot
see, dead ends); the script ends with PASS when every run has all five at 0, else FAIL (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.resend_campaign import run_campaign  # noqa: E402


async def main(args: argparse.Namespace) -> int:
    clean = 0
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="resend-campaign-") as directory:
            campaign, problems = await run_campaign(
                Path(directory), seed=args.seed + run, conversations=args.conversations, kills=args.kills,
                concurrency=args.concurrency,
            )
        ok = campaign.five.zero() and campaign.figures.kills >= args.kills
        clean += ok
        print(f"run {run + 1}: {campaign.summary()} {'PASS' if ok else 'FAIL'}", flush=True)
        for problem in problems[:args.show]:
            print("   ", problem, flush=True)
    verdict = "PASS" if clean == args.runs else "FAIL"
    print(f"{clean} of {args.runs} runs with all five figures at 0: {verdict}")
    return 0 if clean == args.runs else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--show", type=int, default=5, help="problems printed per run")
    sys.exit(asyncio.run(main(parser.parse_args())))
