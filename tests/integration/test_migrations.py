"""Alembic migrations produce exactly the models' schema and can be undone."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
