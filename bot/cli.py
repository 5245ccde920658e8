"""The console command: `leopard-watch run` (also `python -m bot run`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, load_config

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
    sub.add_parser(
        "import-places",
        add_help=False,
        help="build a gazetteer CSV from GeoNames or OSM GeoJSON (see import-places --help)",
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
    logging.getLogger(__name__).info("starting; database %s", config.database_path)
    await runner(build_application(config), stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import-places"]:
        from bot.gazetteer import import_main

        return import_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command != "run":
        _parser().print_help()
        return 0 if args.command is None else 2
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every long-poll request at INFO; that drowns everything else.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return asyncio.run(_run(_config_path(args.config), args.mode))
    except ConfigError as error:
        print(f"leopard-watch: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
