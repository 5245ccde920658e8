"""The console command: `leopard-watch run` and `leopard-watch backup DEST` (also `python -m bot ...`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, load_config
from bot.logs import configure_logging

DEFAULT_CONFIG_ENV = "LEOPARD_WATCH_CONFIG"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leopard-watch",
        description="Heshun leopard watch: a Telegram sighting bot and tip line for the North China leopard.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the bot (long polling) until SIGTERM or Ctrl-C")
    run.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help=f"TOML configuration file (default: ${DEFAULT_CONFIG_ENV}, else config.toml if present)",
    )
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument("--mode", choices=("polling", "webhook"), default="polling",
                     help="how Telegram updates arrive (webhook needs [web] public_url)")
    run.add_argument(
        "--no-sandbox",
        action="store_true",
        help="without BOT_TOKEN, stop with a configuration error instead of starting the local sandbox",
    )
    run.add_argument(
        "--sandbox-port",
        type=int,
        default=8000,
        metavar="PORT",
        help="port of the sandbox page (default: 8000; used only without BOT_TOKEN)",
    )
    run.add_argument(
        "--sandbox-host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address of the sandbox page and its web tip line (default: 127.0.0.1, this computer only; "
        "a LAN address such as 192.168.1.10, or 0.0.0.0 for all, lets a training room's phones open it)",
    )
    backup = sub.add_parser(
        "backup",
        help="copy the database to DEST with SQLite's online backup (safe while the bot runs)",
        description="Copies the database to DEST with SQLite's online backup API: a consistent copy even "
        "while the bot is writing. The copy is checked (integrity_check) before it is moved into place. "
        "Photos are files: back up the media folder separately. To restore, see deploy/GUIDE.md, section 9.",
    )
    backup.add_argument(
        "destination", type=Path, metavar="DEST", help="the file to write (its folder is created)"
    )
    backup.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help=f"TOML configuration file (default: ${DEFAULT_CONFIG_ENV}, else config.toml if present)",
    )
    sub.add_parser(
        "import-places",
        add_help=False,
        help="with --config: load points for Heshun's places into the database (--points CSV, --osm, "
        "--geonames); without: build a gazetteer CSV (see import-places --help)",
    )
    sub.add_parser(
        "export-places",
        add_help=False,
        help="write the points staff taught places as CSV (--config, -o FILE)",
    )
    return parser


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get(DEFAULT_CONFIG_ENV):
        return Path(os.environ[DEFAULT_CONFIG_ENV])
    default = Path("config.toml")
    return default if default.exists() else None


async def _run(config_path: Path | None, mode: str) -> int:
    # Imported here so `--help` and configuration errors do not pay for importing telegram.
    from handlers.app import build_application
    from handlers.web import runner_for

    config = load_config(config_path)
    runner = runner_for(mode, config.secret_key, config.web)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logging.getLogger(__name__).info("starting; database %s", config.storage.database)
    await runner(build_application(config), stop)
    return 0


async def _sandbox(config_path: Path | None, host: str, port: int) -> int:
    # Imported here, like the bot: `--help` and configuration errors stay fast.
    from bot.sandbox.runner import run_sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_sandbox(
        config_path, host=host, port=port, stop=stop, announce=lambda line: print(line, flush=True)
    )
    return 0


def _backup(config_path: Path | None, destination: Path) -> int:
    """`leopard-watch backup DEST`: one line on success (for the journal), one line on failure."""
    import sqlite3

    from bot.store import Store

    try:
        config = load_config(config_path, require_token=False)
        result = Store.backup_file(config.storage.database, destination)
    except ConfigError as error:
        print(f"leopard-watch: configuration error: {error}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as error:
        print(f"leopard-watch: backup failed: {error}", file=sys.stderr)
        return 1
    print(
        f"leopard-watch: backup of {config.storage.database} written to {result.path} "
        f"({result.size} bytes, {result.reports} reports, database version {result.user_version})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import-places"]:
        if any(a in ("-c", "--config") or a.startswith("--config=") for a in argv[1:]):
            from bot import placeio  # into the database: the bureau's own points, or another server's

            return placeio.import_main(argv[1:])
        from bot.gazetteer import import_main

        return import_main(argv[1:])
    if argv[:1] == ["export-places"]:
        from bot import placeio

        return placeio.export_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "backup":
        return _backup(_config_path(args.config), args.destination)
    if args.command != "run":
        _parser().print_help()
        return 0 if args.command is None else 2
    # The project's loggers at --log-level, libraries at WARNING, secrets redacted (bot/logs.py).
    configure_logging(args.log_level)
    # The sandbox is for trying the bot on a laptop: only without a token AND without a
    # configuration file, so a server (which always has one) can never fill its real database
    # with demo reports that its outbox would then send to the real staff group.
    config_path = _config_path(args.config)
    sandbox = not os.environ.get("BOT_TOKEN", "").strip() and not args.no_sandbox and config_path is None
    try:
        if sandbox:
            print(
                "leopard-watch: BOT_TOKEN is not set, so this runs a local sandbox (a fake Telegram and a "
                "web page on this computer) instead of the bot; set BOT_TOKEN to run for real, or pass "
                "--no-sandbox to stop here.",
                flush=True,
            )
            return asyncio.run(_sandbox(None, args.sandbox_host, args.sandbox_port))
        return asyncio.run(_run(config_path, args.mode))
    except ConfigError as error:
        print(f"leopard-watch: configuration error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        from bot.sandbox.runner import SandboxAddressError

        if not isinstance(error, SandboxAddressError):
            raise
        hint = "choose another port with --sandbox-port (or another address with --sandbox-host)"
        print(f"leopard-watch: sandbox: {error.strerror}; {hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
