"""Deployment files (deploy/): what can be checked without Docker or a systemd host is checked here.

- the example configuration loads with the real loader and documents every setting it reads;
- the Dockerfile's ENTRYPOINT + CMD, run directly, start the bot against the fake Bot API, run the
  migrations and stop cleanly on SIGTERM; without BOT_TOKEN they print the one-line error;
- the files the Dockerfile copies are enough to import the bot and compile the catalogs;
- the Dockerfile's health check command, the compose file's essentials;
- the systemd units pass `systemd-analyze verify` and `security` (skipped where systemd is absent).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from bot import config as config_module
from bot.config import load_config
from bot.fake_telegram import FakeTelegram
from bot.store import MIGRATIONS, Store

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "config.example.toml"
UNITS = ("leopard-watch.service", "leopard-watch-backup.service", "leopard-watch-backup.timer")
TOKEN_ENV = {"BOT_TOKEN": "123456789:TEST-TOKEN", "LEOPARD_WATCH_SECRET": "s3cret"}
STATE_DIR = "/var/lib/leopard-watch"


# ---- helpers ----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "Dockerfile ends with a continuation line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    """The JSON (exec) form of the last `keyword` instruction; the shell form is not allowed."""
    values = [rest for kw, rest in instructions if kw == keyword]
    assert values, f"Dockerfile has no {keyword}"
    parsed = json.loads(values[-1])
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed), (
        f"{keyword} must be exec form"
    )
    return parsed


def console_script(name: str) -> Path:
    """The installed console script `name` (pip puts it next to this Python)."""
    path = Path(sysconfig.get_path("scripts")) / name
    assert path.exists(), f"{path} missing: install the project (pip install -e .)"
    return path


def example_with(tmp_path: Path, **telegram: Any) -> Path:
    """The example configuration with state paths under tmp_path and some [telegram] values changed."""
    text = EXAMPLE.read_text(encoding="utf-8").replace(STATE_DIR, tmp_path.as_posix() + "/state")
    for key, value in telegram.items():
        text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {json.dumps(value)}", text, count=1)
        assert count == 1, key
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def entry_command(config_path: Path) -> list[str]:
    """ENTRYPOINT + CMD from the Dockerfile, with the configuration path replaced."""
    stage = final_stage()
    entrypoint, cmd = exec_form(stage, "ENTRYPOINT"), exec_form(stage, "CMD")
    assert entrypoint == ["leopard-watch"]
    assert cmd == ["run", "--config", "/etc/leopard-watch/config.toml"]
    index = cmd.index("--config") + 1
    return [
        str(console_script(entrypoint[0])),
        *entrypoint[1:],
        *cmd[:index],
        str(config_path),
        *cmd[index + 1 :],
    ]


def tree_under_test() -> dict[str, str]:
    """PYTHONPATH when set: a development tree (a git worktree) shadows the installed package, so the
    console script runs the code under test, not the checkout it was installed from."""
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}


def plain_env(**extra: str) -> dict[str, str]:
    """A clean environment, as a container or systemd gives: no BOT_TOKEN unless given."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **extra}
    if "SYSTEMROOT" in os.environ:  # pragma: no cover - Windows
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return env


# ---- the example configuration --------------------------------------------------------------


class Recorder(dict):
    """A TOML table that records which keys the loader looks at ("section.key")."""

    def __init__(self, data: dict[str, Any], prefix: str, seen: set[str]) -> None:
        super().__init__({k: wrap(v, f"{prefix}{k}", seen) for k, v in data.items()})
        self._prefix, self._seen = prefix, seen

    def __contains__(self, key: object) -> bool:
        self._seen.add(f"{self._prefix}{key}")
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        self._seen.add(f"{self._prefix}{key}")
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._seen.add(f"{self._prefix}{key}")
        return super().get(key, default)


def wrap(value: Any, name: str, seen: set[str]) -> Any:
    if isinstance(value, dict):
        return Recorder(value, f"{name}.", seen)
    if isinstance(value, list):  # an array of tables: every element counts as `name.key`
        return [wrap(v, name, seen) if isinstance(v, dict) else v for v in value]
    return value


def settings_in(table: dict[str, Any], prefix: str = "") -> set[str]:
    """The leaf settings of a parsed TOML file, as "section.key" (arrays of tables merged)."""
    names: set[str] = set()
    for key, value in table.items():
        if isinstance(value, dict):
            names |= settings_in(value, f"{prefix}{key}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                names |= settings_in(item, f"{prefix}{key}.")
        else:
            names.add(f"{prefix}{key}")
    return names


def test_example_config_loads_with_the_real_loader() -> None:
    config = load_config(EXAMPLE, TOKEN_ENV)
    assert config.storage.database == Path(STATE_DIR, "leopard-watch.sqlite3")
    assert config.storage.media_dir == Path(STATE_DIR, "media")
    assert config.telegram.moderation_chat_id < 0 and config.telegram.staff_user_ids
    assert config.secret_key == "s3cret"
    assert {d.name: d.trusted for d in config.destinations} == {"bureau": True, "public": False}
    assert [d.name for d in config.destinations_for("tip")] == ["bureau"]


def test_example_config_shows_the_built_in_defaults(tmp_path: Path) -> None:
    """Apart from the settings marked CHANGE and the server paths, the example is the defaults."""
    minimal = tmp_path / "minimal.toml"
    minimal.write_text("[telegram]\nmoderation_chat_id = -1\n", encoding="utf-8")
    example, default = load_config(EXAMPLE, TOKEN_ENV), load_config(minimal, TOKEN_ENV)
    site_specific = {"telegram.moderation_chat_id", "telegram.staff_user_ids", "destinations",
                     "storage.database", "storage.media_dir"}
    differ = [name for name, value in settings_of(example).items() if settings_of(default)[name] != value]
    assert set(differ) <= site_specific, differ


def settings_of(config: Any, prefix: str = "") -> dict[str, Any]:
    """Every setting of a configuration as "section.key" -> value (the sections' fields, recursively)."""
    found: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if is_dataclass(value) and not isinstance(value, type):
            found |= settings_of(value, f"{prefix}{f.name}.")
        else:
            found[f"{prefix}{f.name}"] = value
    return found


def test_example_config_has_every_setting_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key the loader reads is in the example, and every key in the example is read (no typos)."""
    with EXAMPLE.open("rb") as fh:
        data = tomllib.load(fh)
    seen: set[str] = set()
    real_load = tomllib.load
    monkeypatch.setattr(config_module.tomllib, "load", lambda fh: Recorder(real_load(fh), "", seen))
    load_config(EXAMPLE, TOKEN_ENV)
    web_settings = optional_web_settings()
    if web_settings is not None:  # the [web] section has its own reader
        web_settings(Recorder(data, "", seen))
    read = {name for name in seen if "." in name}  # "section.key"; a bare name is a table looked up
    written = settings_in(data)
    assert sorted(read - written) == [], "settings read by bot/config.py but missing from the example"
    assert sorted(written - read) == [], "settings in the example that bot/config.py never reads"


def optional_web_settings() -> Any:
    """`bot.web.settings.web_settings`, the reader of the [web] section, where this version has it."""
    try:
        from bot.web.settings import web_settings
    except ImportError:
        return None
    return web_settings


def test_example_web_section_matches_its_reader() -> None:
    """The [web] block (commented out until the web server ships) names exactly what is read."""
    web_settings = optional_web_settings()
    if web_settings is None:
        pytest.skip("this version has no web server")
    text = EXAMPLE.read_text(encoding="utf-8")
    with EXAMPLE.open("rb") as fh:
        data = tomllib.load(fh)
    if "web" not in data:
        block = text[text.index("# [web]") :].splitlines()
        data = tomllib.loads("\n".join(line.removeprefix("# ") for line in block))
    assert "web" in data
    seen: set[str] = set()
    settings = web_settings(Recorder(data, "", seen))
    assert settings.enabled and settings.port == 8080, "the health check expects port 8080"
    written = {name for name in settings_in(data) if name.startswith("web.")}
    assert sorted(seen - written - {"web"}) == [], "read by the web server, missing from the example"
    assert sorted(written - seen) == [], "in the example, never read by the web server"


def test_example_config_explains_every_setting() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    comments = "\n".join(line for line in lines if line.startswith("#"))
    unexplained = []
    for number, line in enumerate(lines):
        match = re.match(r"(\w+)\s*=", line)
        if not match:
            continue
        key = match.group(1)
        above = lines[number - 1] if number else ""
        inline = "#" in line.split("=", 1)[1]
        listed = re.search(rf"(?m)^#\s+{key}\s", comments) is not None
        if not (above.startswith("#") or inline or listed):
            unexplained.append(key)
    assert unexplained == []


def test_env_example_names_the_secrets() -> None:
    keys = [
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert keys == ["BOT_TOKEN", "LEOPARD_WATCH_SECRET"]
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        assert not line or line.startswith("#") or line.endswith("="), (
            f"example must not hold a value: {line}"
        )


# ---- the container's entry command, run directly -----------------------------------------------


def test_entry_command_help() -> None:
    command = entry_command(Path("unused"))
    result = subprocess.run(
        [command[0], "--help"], env=plain_env(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "run" in result.stdout and result.stderr == ""


def test_entry_command_without_token_prints_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*entry_command(example_with(tmp_path)), "--no-sandbox"],
        env=plain_env(), capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "leopard-watch: configuration error: "
        "BOT_TOKEN is not set (put the token from BotFather in the environment)"
    ]
    assert not (tmp_path / "state").exists()


async def test_entry_command_runs_migrates_and_stops_on_sigterm(tmp_path: Path) -> None:
    """What `docker run IMAGE` and `docker stop` do, against the fake Bot API."""
    fake = FakeTelegram()
    await fake.start()
    try:
        fake.add_group(-1001234567890, "staff")
        config_path = example_with(tmp_path, base_url=fake.base_url, base_file_url=fake.base_file_url)
        process = await asyncio.create_subprocess_exec(
            *entry_command(config_path),
            env=plain_env(BOT_TOKEN=fake.token, LEOPARD_WATCH_SECRET="s3cret", **tree_under_test()),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # A long poll is recorded when it ends; deleteWebhook is the start of polling.
            for _ in range(600):
                if fake.calls_to("deleteWebhook") or process.returncode is not None:
                    break
                await asyncio.sleep(0.025)
            assert fake.calls_to("deleteWebhook"), "the bot never started polling"
            await asyncio.sleep(0.2)  # into the first getUpdates
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
    finally:
        await fake.stop()
    database = tmp_path / "state" / "leopard-watch.sqlite3"
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- the Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_lint() -> None:
    instructions = dockerfile_instructions()
    bases = [rest.split()[0] for keyword, rest in instructions if keyword == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    stage = final_stage()
    keywords = [keyword for keyword, _ in stage]
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert "WORKDIR" in keywords and "HEALTHCHECK" in keywords
    volumes = [v for keyword, rest in stage if keyword == "VOLUME" for v in json.loads(rest)]
    assert volumes == [STATE_DIR]
    for keyword, rest in instructions:
        if keyword == "RUN" and "pip install" in rest:
            assert "--no-cache-dir" in rest, rest
    # bot/data/ comes with bot/, the catalogs must be copied beside the packages.
    copied = {
        rest.split()[0].rstrip("/")
        for keyword, rest in instructions
        if keyword == "COPY" and "--from" not in rest
    }
    assert {"bot", "handlers", "locales", "pyproject.toml"} <= copied, copied


def test_dockerfile_copies_enough_to_run(tmp_path: Path) -> None:
    """Lay out only what the Dockerfile copies and run the image's own build-time check there."""
    app = tmp_path / "app"
    app.mkdir()
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY" or "--from" in rest:
            continue
        *sources, _ = rest.split()
        for source in sources:
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, app / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, app / source)
    checks = [
        shlex.split(rest)
        for keyword, rest in final_stage()
        if keyword == "RUN" and rest.startswith("python -c")
    ]
    assert len(checks) == 1, "expected one build-time `python -c` check in the final stage"
    code = checks[0][2]
    probe = f"{code}\nimport bot.i18n\nprint(bot.i18n.LOCALES_DIR)"
    result = subprocess.run(
        [sys.executable, "-P", "-c", probe],
        cwd=tmp_path,
        env=plain_env(PYTHONPATH=str(app)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == app / "locales", "the check did not run the copied tree"


def test_dockerfile_dependency_step() -> None:
    """The build stage installs the hashed lock (every package pinned, every file's hash checked)."""
    instructions = dockerfile_instructions()
    steps = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    locked = [step for step in steps if "requirements.lock" in step]
    assert len(locked) == 1 and "--require-hashes" in locked[0], steps
    assert all("requirements.lock" in step or "--no-deps" in step for step in steps), steps
    copied = [rest for keyword, rest in instructions if keyword == "COPY" and "requirements.lock" in rest]
    assert copied, "the lock file must be copied into the build stage"
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    with (ROOT / "pyproject.toml").open("rb") as fh:
        dependencies = tomllib.load(fh)["project"]["dependencies"]
    for requirement in dependencies:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        assert re.search(rf"(?mi)^{re.escape(name)}==", lock), f"{name} is not in requirements.lock"
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"deploy/env", "deploy/config.toml", ".git"} <= set(ignored), "keep secrets out of the context"


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[Health]]]:
    handler = type("Handler", (Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/healthz", handler
    server.shutdown()
    server.server_close()


def test_healthcheck_command(health_server: tuple[str, type[Health]]) -> None:
    url, handler = health_server
    healthcheck = next(rest for keyword, rest in final_stage() if keyword == "HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in healthcheck
    command = json.loads(healthcheck[healthcheck.index("CMD ") + 4 :])
    assert command[0] == "python"
    command[0] = sys.executable

    def check(target: str) -> int:
        env = plain_env(HEALTHCHECK_URL=target)
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    assert check(url) == 0
    handler.status = 503
    assert check(url) != 0
    closed = url.rsplit(":", 1)[0] + ":9/healthz"  # the discard port: nothing listens
    assert check(closed) != 0


def test_compose_file() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"(?m)^\s+dockerfile: deploy/Dockerfile$", text)
    assert re.search(r"(?m)^\s+restart: (unless-stopped|always)$", text)
    assert re.search(r"(?m)^\s+read_only: true$", text)
    assert re.search(r"(?m)^\s+- /tmp(:|$)", text), "tmpfs /tmp"
    assert re.search(rf"(?m)^\s+- leopard-data:{STATE_DIR}$", text)
    assert re.search(r"(?m)^\s+- \./config\.toml:/etc/leopard-watch/config\.toml:ro$", text)
    assert re.search(r"(?m)^\s+env_file:\n\s+- \./env\b", text)
    assert re.search(r"(?m)^\s+stop_grace_period: \d+s$", text)
    assert "BOT_TOKEN=" not in text.replace("# BOT_TOKEN=...", ""), "secrets belong in ./env"


# ---- systemd ------------------------------------------------------------------------------------


def unit_directives(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every directive of a unit file, continuation lines joined."""
    directives, section, pending = [], "", ""
    for raw in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        directives.append((section, key, value))
    return directives


def test_service_is_hardened() -> None:
    service = {(s, k): v for s, k, v in unit_directives("leopard-watch.service")}
    expected = {
        "DynamicUser": "yes",
        "StateDirectory": "leopard-watch",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "EnvironmentFile": "/etc/leopard-watch/env",
        "ExecStart": "/opt/leopard-watch/venv/bin/leopard-watch run --config /etc/leopard-watch/config.toml",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
    }
    assert {k: service.get(("Service", k)) for k in expected} == expected
    assert ("Service", "MemoryMax") in service and ("Service", "TimeoutStopSec") in service
    filters = [v for s, k, v in unit_directives("leopard-watch.service") if k == "SystemCallFilter"]
    assert filters[0] == "@system-service"
    # The example configuration keeps its state where systemd's StateDirectory= puts it.
    config = load_config(EXAMPLE, TOKEN_ENV)
    assert config.storage.database.parent == config.storage.media_dir.parent == Path(STATE_DIR)
    timer = {(s, k): v for s, k, v in unit_directives("leopard-watch-backup.timer")}
    assert timer[("Timer", "Unit")] == "leopard-watch-backup.service"
    assert timer[("Timer", "Persistent")] == "true" and "OnCalendar" in {k for _, k in timer}
    backup = {(s, k): v for s, k, v in unit_directives("leopard-watch-backup.service")}
    assert backup[("Service", "User")] == "leopard-watch", "must share the bot's dynamic user"
    assert "/opt/leopard-watch/venv/bin/leopard-watch backup " in backup[("Service", "ExecStart")]


@pytest.fixture
def units_with_installed_binary(tmp_path: Path) -> Path:
    """The units, with /opt/leopard-watch/venv/bin/ pointed at this Python's installed scripts."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    scripts = console_script("leopard-watch").parent
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(
            text.replace("/opt/leopard-watch/venv/bin", str(scripts)), encoding="utf-8"
        )
    return tmp_path


def test_systemd_analyze_verify(units_with_installed_binary: Path) -> None:
    """No warning at all: an unknown or misspelt directive is only a warning to systemd."""
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(units_with_installed_binary / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("name", ["leopard-watch.service", "leopard-watch-backup.service"])
def test_systemd_analyze_security(units_with_installed_binary: Path, name: str) -> None:
    result = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            "--no-pager",
            str(units_with_installed_binary / name),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if "--offline" in result.stderr:  # pragma: no cover - systemd older than 250
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout  # systemd calls up to 2.0 "OK"


@pytest.fixture
def backup_command() -> Path:
    script = console_script("leopard-watch")
    help_text = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30).stdout
    if not re.search(r"\bbackup\b", help_text):
        pytest.skip("`leopard-watch backup DEST` is not implemented yet")
    return script


async def test_backup_command_of_the_timer(tmp_path: Path, backup_command: Path) -> None:
    """The backup unit's command makes a consistent copy (once `leopard-watch backup` exists)."""
    config_path = example_with(tmp_path)
    store = await Store.open(tmp_path / "state" / "leopard-watch.sqlite3")  # migrated, in WAL mode
    try:
        destination = tmp_path / "backups" / "copy.sqlite3"
        destination.parent.mkdir()
        # As leopard-watch-backup.service runs it: configuration from LEOPARD_WATCH_CONFIG.
        process = await asyncio.create_subprocess_exec(
            str(backup_command),
            "backup",
            str(destination),
            env=plain_env(LEOPARD_WATCH_CONFIG=str(config_path), **TOKEN_ENV),
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await store.close()
    assert process.returncode == 0, stderr.decode()
    db = sqlite3.connect(destination)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        db.close()
