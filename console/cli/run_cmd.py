"""``station run`` (the service) and ``station demo`` (a throwaway demo station).

``station run`` loads the config (``--config`` > ``$STATION_CONFIG`` > /etc/station/station.yaml), migrates
the database, then serves the console with uvicorn on ``console.host:console.port``. A bad config exits 78,
which the systemd unit treats as "do not restart".
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from pathlib import Path
from typing import Any

from config.settings import Settings, settings_from_config
from console.account import Actor, add_user
from console.bootstrap import prepare_database
from console.cli.common import add_config_argument, database_errors, open_database
from console.demo import DEMO_USERS, DemoVideoError, demo_data_dir, prepare_demo, write_demo_config
from console.model_path import ENV_MODEL, default_model_path
from storage.migration import DatabaseTooNewError
from storage.user import count_users

logger = logging.getLogger(__name__)

EXIT_DATABASE_TOO_NEW = 65  # sysexits EX_DATAERR; also in the unit's RestartPreventExitStatus
EXIT_SERVE_FAILED = 1
EXIT_DEMO_INPUT = 66  # sysexits EX_NOINPUT: a --video file that is not there


def register(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the station: web console and cameras")
    add_config_argument(run)
    _listen_arguments(run)
    run.set_defaults(func=_run)

    demo = subparsers.add_parser(
        "demo", help="run a demo station in /tmp/station-demo ($STATION_DATA_DIR) with a demo admin"
    )
    _listen_arguments(demo)
    demo.add_argument(
        "--video",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="use this video file (H.264 MP4) as a demo camera, looped; repeatable",
    )
    demo.set_defaults(func=_demo)


def _listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="listen address (overrides console.host)")
    parser.add_argument("--port", type=int, help="listen port (overrides console.port)")


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Run the console until SIGINT/SIGTERM; shutdown runs the app's lifespan in reverse."""
    import uvicorn  # the web stack is loaded only by the commands that serve

    from console.app import create_app
    from console.recording import media_cpus

    media_cpus(settings)  # a CPU this machine lacks stops here, with the config report and exit code 78
    bind_host = host or settings.config.console.host
    bind_port = port if port is not None else settings.config.console.port
    config = uvicorn.Config(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        log_config=None,  # keep the station's logging set up by `station`
        server_header=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    logger.info(
        "station %r: web console on http://%s:%d (config %s)",
        settings.config.station.name,
        bind_host,
        bind_port,
        settings.config_path or "built-in",
    )
    server.run()
    return 0 if server.started else EXIT_SERVE_FAILED


@database_errors
def _run(args: argparse.Namespace) -> int:
    try:
        settings, database = open_database(args)
    except DatabaseTooNewError as exc:
        print(f"station run: {exc}", file=sys.stderr)
        return EXIT_DATABASE_TOO_NEW
    database.dispose()
    return serve(settings, host=args.host, port=args.port)


def _demo(args: argparse.Namespace) -> int:
    data_dir = demo_data_dir()
    model = default_model_path(None)
    try:
        config = prepare_demo(data_dir, videos=args.video, model=model)
    except DemoVideoError as exc:
        print(f"station demo: {exc}", file=sys.stderr)
        return EXIT_DEMO_INPUT
    config_path = write_demo_config(config, data_dir / "station.yaml")
    settings = settings_from_config(config)
    try:
        database = prepare_database(settings, hint_first_user=False)
    except DatabaseTooNewError as exc:
        print(f"station demo: {exc} (delete {settings.data_dir} to start over)", file=sys.stderr)
        return EXIT_DATABASE_TOO_NEW
    try:
        with database.session() as session:
            password = None
            if count_users(session) == 0:
                password = secrets.token_urlsafe(12)
                for username, role, name in DEMO_USERS:
                    add_user(
                        session,
                        actor=Actor(source="cli", detail={"mode": "demo"}),
                        username=username,
                        role=role,
                        password=password,
                        display_name=name,
                    )
    finally:
        database.dispose()
    host = args.host or settings.config.console.host
    port = args.port if args.port is not None else settings.config.console.port
    print(f"Demo station in {settings.data_dir}: open http://{host}:{port}/")
    print(f"  config: {config_path} (e.g. station user list --config {config_path})")
    if model is not None:
        print(f"  detection: motion and people, detector {model}")
    else:
        print(
            f"  detection: motion only (no detector model: set ${ENV_MODEL} to an ONNX detector for people)"
        )
    if password is not None:
        for username, role, _name in DEMO_USERS:
            print(f"  user: {username} ({role.value})")
        print(f"  password: {password}   (for both; shown once, only its hash is stored)")
    else:
        print(f"  existing users kept; delete {settings.data_dir} to start a fresh demo")
    sys.stdout.flush()
    return serve(settings, host=args.host, port=args.port)
