"""The hashed lock files: CI and the Docker image install exactly these.

``requirements.lock`` (the bot) and ``requirements-dev.lock`` (with the ``dev`` extra) are written by
``python3 scripts/lock.py``. These checks need no network: every dependency in pyproject.toml is
pinned, at a version its range allows, every pin carries hashes, and the security floors hold. When
one fails after pyproject.toml changed, run ``python3 scripts/lock.py`` and commit both files.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `python3 scripts/lock.py` and commit requirements.lock and requirements-dev.lock"


def pins(name: str) -> dict[str, tuple[Version, list[str]]]:
    """{package: (version, hashes)} of a lock file."""
    text = (ROOT / name).read_text(encoding="utf-8")
    found: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==([^ \\;\n]+)", block)
        if match:
            found[canonicalize_name(match.group(1))] = (Version(match.group(2)),
                                                        re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return found


def project() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)["project"]


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ()), ("requirements-dev.lock", ("dev",))])
def test_every_dependency_is_pinned_in_range_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    assert pinned, lock
    wanted = [Requirement(r) for r in project()["dependencies"]]
    wanted += [Requirement(r) for extra in extras for r in project()["optional-dependencies"][extra]]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in {lock}: {FIX}"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement.specifier}: {FIX}")
    for name, (_, hashes) in pinned.items():
        assert hashes, f"{name} has no --hash in {lock}"


def test_security_floors() -> None:
    """Floors past known CVEs, in the ranges and in what is actually pinned."""
    floors = {"aiohttp": Version("3.12.14")}  # request smuggling (CVE-2025-53643 and earlier)
    ranges = {canonicalize_name(Requirement(r).name): Requirement(r) for r in project()["dependencies"]}
    for name, floor in floors.items():
        below = Version(f"{floor.major}.{floor.minor}.{max(0, floor.micro - 1)}")
        assert not ranges[name].specifier.contains(below), f"pyproject.toml still allows {name} {below}"
        for lock in ("requirements.lock", "requirements-dev.lock"):
            assert pins(lock)[name][0] >= floor, lock
