"""The crash campaign with people who send again after a silence; five figures at 0.

40 conversations (half of them sent, the rest left at a random step), the bot killed with SIGKILL
at least 6 times at random moments, people who send the same again after 2–3.5 s of silence and
follow the question shown (tests/resend_campaign.py). ``bench/bench_crash_campaign.py`` runs it
several times in a row and prints the figures of each run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.resend_campaign import run_campaign

CONVERSATIONS = int(os.environ.get("RESEND_CONVERSATIONS", "40"))
KILLS = int(os.environ.get("RESEND_KILLS", "6"))


async def test_people_who_send_again_lose_nothing_and_are_never_misread(tmp_path: Path) -> None:
    campaign, problems = await run_campaign(tmp_path, seed=2024, conversations=CONVERSATIONS, kills=KILLS)
    print("\nresend campaign:", campaign.summary())
    for problem in problems[:5]:
        number = re.match(r"conversation (\d+)", problem)
        if number:
            print(problem, "\n  " + "\n  ".join(campaign.traces.get(int(number.group(1)), [])[-30:]))
    assert campaign.figures.kills >= KILLS
    assert campaign.five.zero(), campaign.summary()
    assert not problems, "\n".join(problems[:40])
