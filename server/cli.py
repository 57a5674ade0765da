"""The `coach` command (DESIGN section 6)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from db import accounts, outbox
from db import flags as flag_rows
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import User, utcnow
from policy.addresses import (
    InvalidAddress,
    normalize_email,
    normalize_phone,
    validate_timezone,
)
from policy.flags import flag_enabled, rule_of
from server.config import Settings, load_settings
from server.logs import configure_logging
from server.routes.flags import flag_json
from server.routes.outbox import message_json
from server.schemas.tokens import CreatedToken, TokenCreate, TokenInfo

MAX_OUTBOX_LIST = 10_000


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

    tokens = commands.add_parser("tokens", help="manage a user's API tokens")
    token_actions = tokens.add_subparsers(dest="action", required=True)
    create_token = token_actions.add_parser("create", help="create a token and print it: the only time it is shown")
    create_token.add_argument("--user", required=True, help="user id")
    create_token.add_argument("--name", default="default", help="a label to tell tokens apart")
    create_token.add_argument("--expires-at", help="ISO 8601 with a zone, at most a year ahead; default: never")
    list_tokens = token_actions.add_parser("list", help="list a user's tokens (never their secrets)")
    list_tokens.add_argument("--user", required=True, help="user id")
    revoke_token = token_actions.add_parser("revoke", help="revoke a token: it stops working at once")
    revoke_token.add_argument("--user", required=True, help="user id")
    revoke_token.add_argument("--id", required=True, dest="token_id", help="the token's id (from create or list)")

    outbox_commands = commands.add_parser("outbox", help="read the development outbox (COACH_OUTBOX)")
    outbox_actions = outbox_commands.add_subparsers(dest="action", required=True)
    list_outbox = outbox_actions.add_parser(
        "list", help="print the messages stored instead of sent, newest first, one JSON object a line"
    )
    list_outbox.add_argument("--user", help="only this user's messages (user id); default: everyone's")
    list_outbox.add_argument("--limit", type=_positive, default=20, help="at most this many messages (default 20)")

    flags = commands.add_parser("flags", help="manage feature flags (tools behind a flag are named tool:<tool>)")
    flag_actions = flags.add_subparsers(dest="action", required=True)
    flag_actions.add_parser("list", help="print every flag and its targeting, one JSON object a line")
    create_flag = flag_actions.add_parser("create", help="create a flag, off for everyone")
    create_flag.add_argument("name")
    create_flag.add_argument("--description", default="")
    set_flag = flag_actions.add_parser("set", help="change a flag's targeting; what is not given stays")
    set_flag.add_argument("name")
    switch = set_flag.add_mutually_exclusive_group()
    switch.add_argument("--on", dest="enabled", action="store_const", const=True, help="on for everyone")
    switch.add_argument("--off", dest="enabled", action="store_const", const=False, help="not on for everyone")
    set_flag.add_argument("--add-team", action="append", default=[], metavar="TEAM_ID", help="on for this team's members")
    set_flag.add_argument("--remove-team", action="append", default=[], metavar="TEAM_ID")
    set_flag.add_argument("--add-user", action="append", default=[], metavar="USER_ID", help="on for this user")
    set_flag.add_argument("--remove-user", action="append", default=[], metavar="USER_ID")
    set_flag.add_argument("--rollout", type=int, help="on for this percentage of users (0-100, stable per user)")
    who = flag_actions.add_parser("who", help="print the members of a team the flag is on for")
    who.add_argument("name")
    who.add_argument("--team", required=True, help="team id")

    call = commands.add_parser("call", help="place an outbound coaching call")
    call.add_argument("--user", required=True)
    call.add_argument(
        "--purpose", default="goal_checkin",
        choices=["habit_reminder", "goal_checkin", "accountability", "celebration", "custom"],
    )
    call.add_argument("--message", default="")
    return parser


def _positive(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_OUTBOX_LIST):
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_OUTBOX_LIST}")
    return int(raw)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    configure_logging(secrets=settings.secret_values())
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
    if args.command == "tokens":
        upgrade(settings.DATABASE_URL)
        print(json.dumps(asyncio.run(manage_tokens(settings, args))))
        return 0
    if args.command == "outbox":
        upgrade(settings.DATABASE_URL)
        for message in asyncio.run(outbox_messages(settings, args.user, args.limit)):
            print(json.dumps(message))
        return 0
    if args.command == "flags":
        upgrade(settings.DATABASE_URL)
        for line in asyncio.run(manage_flags(settings, args)):
            print(json.dumps(line))
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
            token = (await accounts.issue_token(session, user.id)).secret
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


async def outbox_messages(settings: Settings, user_id: str | None, limit: int) -> list[dict[str, Any]]:
    """`coach outbox list`: what the development outbox holds, newest first, as `GET /api/outbox` shows it
    (and whose it is). On a fresh machine this is how a developer reads their first sign-in code."""
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with make_session_factory(engine)() as session:
            if user_id is not None and await session.get(User, user_id) is None:
                raise UsageError(f"no user with id {user_id}")
            rows = await outbox.newest_first(session, user_id, limit)
            return [{**message_json(row), "user_id": row.user_id} for row in rows]
    finally:
        await engine.dispose()


async def manage_flags(settings: Settings, args: argparse.Namespace) -> list[dict[str, Any]]:
    """`coach flags list|create|set|who`: the operator's side of feature flags."""
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with make_session_factory(engine)() as session:
            try:
                lines = await _flag_command(session, args)
            except flag_rows.FlagProblem as problem:
                raise UsageError(str(problem)) from None
            await session.commit()
            return lines
    finally:
        await engine.dispose()


async def _flag_command(session: AsyncSession, args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.action == "list":
        return [flag_json(flag) for flag in await flag_rows.all_flags(session)]
    if args.action == "create":
        return [flag_json(await flag_rows.create(session, args.name, args.description))]
    flag = await flag_rows.named(session, args.name)
    if args.action == "set":
        flag_rows.change(
            flag, enabled=args.enabled, add_teams=args.add_team, remove_teams=args.remove_team, add_users=args.add_user,
            remove_users=args.remove_user, rollout_percentage=args.rollout,
        )
        return [flag_json(flag)]
    if await accounts.team_settings(session, args.team) is None:
        raise UsageError(f"no team with id {args.team}")
    members = await flag_rows.teams_of_members(session, args.team)
    rule = rule_of(flag)
    return [{"user_id": user_id, "on": flag_enabled(rule, user_id, teams)} for user_id, teams in members.items()]


async def manage_tokens(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """`coach tokens create|list|revoke`: the same repository calls as `/api/me/tokens`."""
    now = utcnow()
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with make_session_factory(engine)() as session:
            if await session.get(User, args.user) is None:
                raise UsageError(f"no user with id {args.user}")
            result = await _token_command(session, args, now)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def _token_command(session: AsyncSession, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    if args.action == "create":
        try:
            wanted = TokenCreate.model_validate({"name": args.name, "expires_at": args.expires_at})
            new = await accounts.issue_token(session, args.user, name=wanted.name, expires_at=wanted.expires_at, now=now)
        except ValidationError as exc:
            raise UsageError(_option_errors(exc)) from None
        except (accounts.InvalidTokenExpiry, accounts.TooManyTokens) as exc:
            raise UsageError(str(exc)) from None
        return CreatedToken.of_new(new, now).model_dump(mode="json")
    if args.action == "list":
        rows = await accounts.list_tokens(session, args.user)
        return {"tokens": [TokenInfo.of(row, now).model_dump(mode="json") for row in rows]}
    row = await accounts.revoke_token(session, args.user, args.token_id, now)
    if row is None:
        raise UsageError(f"user {args.user} has no token with id {args.token_id}")
    return TokenInfo.of(row, now).model_dump(mode="json")


def _option_errors(exc: ValidationError) -> str:
    """A request model's errors named by the command-line options that carried the fields."""
    return "; ".join(f"--{str(error['loc'][0]).replace('_', '-')}: {error['msg']}" for error in exc.errors())


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
