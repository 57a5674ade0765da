"""Alembic migrations produce exactly the models' schema and can be undone."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.migrate import downgrade, upgrade
from db.models import Base
from services import create_postgres_database, drop_postgres_database, unavailable


def schema_differences(url: str) -> list[object]:
    async def compare() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def table_names(url: str) -> set[str]:
    async def names() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(names())


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    try:
        url = create_postgres_database()
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    yield url
    drop_postgres_database(url)


def test_upgrade_head_gives_exactly_the_models_schema(empty_database):
    upgrade(empty_database)
    assert schema_differences(empty_database) == []
    assert set(Base.metadata.tables) <= table_names(empty_database)


def test_upgrade_is_idempotent(empty_database):
    upgrade(empty_database)
    upgrade(empty_database)
    assert schema_differences(empty_database) == []


def test_downgrade_base_removes_every_table(empty_database):
    upgrade(empty_database)
    downgrade(empty_database)
    assert table_names(empty_database) <= {"alembic_version"}


def test_0013_rolls_existing_team_links_up_from_their_history_and_keeps_one_per_team(empty_database):
    """Links written before 0013 (a retried action linked twice) become one roll-up row each."""
    upgrade(empty_database, "0012")
    statements = [
        "INSERT INTO users (id, name, created_at) VALUES ('u1', 'U', CURRENT_TIMESTAMP)",
        "INSERT INTO teams (id, name, created_at) VALUES ('t1', 'T', CURRENT_TIMESTAMP)",
        "INSERT INTO action_teams (id, action_id, team_id) VALUES ('l1', 'a1', 't1'), ('l2', 'a1', 't1')",
    ] + [
        "INSERT INTO agent_action_history (id, user_id, action_id, tool, status, source, payload, risk_level,"
        f" error_code, created_at) VALUES ('{row}', 'u1', 'a1', 'send_sms', '{status}', 'api', '{{}}', 'high',"
        f" {code}, '2026-01-0{day} 10:00:00+00:00')"
        for row, status, code, day in (("h1", "denied", "'RATE_LIMITED'", 1), ("h2", "failed", "NULL", 2), ("h3", "executed", "NULL", 3))
    ]

    async def arrange_then_read() -> list[tuple[object, ...]]:
        engine = make_engine(empty_database)
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
            await asyncio.to_thread(upgrade, empty_database)
            async with engine.connect() as connection:
                query = "SELECT action_id, user_id, tool, steps, denied_code, requested_at FROM action_teams"
                return [tuple(row) for row in (await connection.execute(text(query))).all()]
        finally:
            await engine.dispose()

    [(action_id, user_id, tool, steps, denied_code, requested_at)] = asyncio.run(arrange_then_read())
    assert (action_id, user_id, tool, steps, denied_code) == ("a1", "u1", "send_sms", 16 | 8 | 4, "RATE_LIMITED")
    assert str(requested_at).startswith("2026-01-01 10:00:00")
