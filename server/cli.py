"""The `coach` command (DESIGN section 6)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from db import accounts
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from policy.addresses import InvalidAddress, normalize_email, normalize_phone, validate_timezone
from server.config import Settings, load_settings
from server.logs import configure_logging


class UsageError(Exception):
    """Bad command-line input; printed without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coach", description="Vision Coach Voice server")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database, then serve HTTP and websockets")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-worker", action="store_true", help="do not run the scheduler in-process")

    commands.add_parser("migrate", help="apply database migrations")
    worker = commands.add_parser("worker", help="run the scheduler (reminders, check-ins, sequences, expiry)")
    worker.add_argument("--concurrency", type=int, default=32, help="jobs run at once by this process")

    users = commands.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    create_user = users.add_parser("create", help="create a user and print its id and API token")
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--phone", help="E.164, e.g. +14155550100")
    create_user.add_argument("--email")
    create_user.add_argument("--timezone", default="UTC", help="IANA zone, e.g. America/New_York")
    create_user.add_argument("--team", help="team id to join")
    create_user.add_argument("--role", default="member", choices=accounts.ROLES)

    teams = commands.add_parser("teams", help="manage teams").add_subparsers(dest="action", required=True)
    create_team = teams.add_parser("create", help="create a team and print its id")
    create_team.add_argument("--name", required=True)

    call = commands.add_parser("call", help="place an outbound coaching call")
    call.add_argument("--user", required=True)
    call.add_argument(
        "--purpose", default="goal_checkin",
        choices=["habit_reminder", "goal_checkin", "accountability", "celebration", "custom"],
    )
    call.add_argument("--message", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    settings = load_settings()
    try:
        return run(args, settings)
    except (UsageError, InvalidAddress) as exc:
        print(f"coach: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return serve(args, settings)
    if args.command == "migrate":
        upgrade(settings.DATABASE_URL)
        print(json.dumps({"migrated": True}))
        return 0
    if args.command == "users":
        upgrade(settings.DATABASE_URL)
        print(json.dumps(asyncio.run(create_user(settings, args))))
        return 0
    if args.command == "teams":
        upgrade(settings.DATABASE_URL)
        print(json.dumps(asyncio.run(create_team(settings, args.name))))
        return 0
    if args.command == "worker":
        from server.worker import run_worker

        upgrade(settings.DATABASE_URL)
        with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
            runner.run(run_worker(settings, args.concurrency))
        return 0
    if args.command == "call":
        upgrade(settings.DATABASE_URL)
        result = asyncio.run(place_call(settings, args))
        print(json.dumps(result))
        return 0 if result.get("success") else 1
    raise UsageError(f"unknown command {args.command}")


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it): a worker spends much of its CPU in the loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app

    upgrade(settings.DATABASE_URL)
    # No per-message deflate on the media sockets: Twilio does not ask for it, and 50 frames a second per
    # call would pay for it. The sans-I/O websockets protocol has no reader task per connection: 12% less
    # server CPU per call than the legacy one in bench/voice_capacity.py (and the tests' servers use it too).
    # (httptools measured no different.)
    uvicorn.run(
        create_app(settings, run_worker=not args.no_worker), host=args.host, port=args.port, log_config=None, ws="websockets-sansio",
        ws_per_message_deflate=False, ws_max_size=settings.COACH_MAX_WS_MESSAGE_BYTES,
    )
    return 0


async def create_user(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    if not args.phone and not args.email:
        raise UsageError("give --phone or --email (or both)")
    phone = normalize_phone(args.phone) if args.phone else None
    email = normalize_email(args.email) if args.email else None
    zone = validate_timezone(args.timezone)
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with make_session_factory(engine)() as session:
            if phone and await accounts.user_by_phone(session, phone):
                raise UsageError(f"a user with phone {phone} already exists")
            user = await accounts.create_user(session, name=args.name, phone=phone, email=email, timezone=zone)
            if args.team:
                if await accounts.team_settings(session, args.team) is None:
                    raise UsageError(f"no team with id {args.team}")
                await accounts.add_member(session, team_id=args.team, user_id=user.id, role=args.role)
            token = await accounts.issue_token(session, user.id)
            await session.commit()
            return {"id": user.id, "name": user.name, "phone": phone, "email": email, "timezone": zone, "token": token}
    finally:
        await engine.dispose()


async def create_team(settings: Settings, name: str) -> dict[str, Any]:
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with make_session_factory(engine)() as session:
            team = await accounts.create_team(session, name=name)
            await session.commit()
            return {"id": team.id, "name": team.name}
    finally:
        await engine.dispose()


async def place_call(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Dial a user through the same dispatch as everything else (quiet hours, consent, limits apply)."""
    from server.context import AppContext
    from tools.dispatch import Actor, dispatch

    ctx = AppContext.open(settings)
    try:
        async with ctx.sessions() as session:
            roles = {m.team_id: m.role for m in await accounts.memberships(session, args.user)}
        actor = Actor(args.user, "operator", roles)
        result = await dispatch(ctx.services, actor, "make_voice_call", {"call_type": args.purpose, "message": args.message})
        return result.to_json()
    finally:
        await ctx.close()


if __name__ == "__main__":
    raise SystemExit(main())
