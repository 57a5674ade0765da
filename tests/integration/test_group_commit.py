"""Group commit (db/group_commit.py): writes that arrive together share a transaction, yet each write's
result and failure stay its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from backends import Backend
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_engine, make_session_factory
from db.group_commit import GroupCommit, Transaction
from db.models import FeatureFlag, new_id

FLAGS = FeatureFlag.__table__


@pytest.fixture
async def engine(backend: Backend) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(backend.database_url)
    yield engine
    await engine.dispose()


def commits_on(engine: AsyncEngine) -> list[None]:
    commits: list[None] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append(None))
    return commits


def flag_named(name: str):  # type: ignore[no-untyped-def]
    async def write(transaction: Transaction) -> str:
        await transaction.session.execute(insert(FLAGS), {"id": new_id(), "name": name})
        return name

    return write


async def flag_names(engine: AsyncEngine, prefix: str) -> set[str]:
    async with make_session_factory(engine)() as session:
        return set((await session.scalars(select(FeatureFlag.name).where(FeatureFlag.name.like(f"{prefix}%")))).all())


async def test_writes_that_arrive_together_commit_in_one_transaction(engine):
    writes = GroupCommit(make_session_factory(engine))
    commits = commits_on(engine)
    prefix = f"together-{new_id()}-"
    results = await asyncio.gather(*(writes.run(flag_named(f"{prefix}{n}")) for n in range(10)))
    assert results == [f"{prefix}{n}" for n in range(10)]
    assert len(commits) == 1
    assert await flag_names(engine, prefix) == set(results)


async def test_rows_the_writes_insert_go_in_one_statement_per_table(engine):
    writes = GroupCommit(make_session_factory(engine))
    prefix = f"rows-{new_id()}-"
    inserts: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute",
        lambda _connection, _cursor, statement, *_: inserts.append(statement) if statement.startswith("INSERT") else None,
    )

    def flag_row(name: str):  # type: ignore[no-untyped-def]
        async def write(transaction: Transaction) -> None:
            transaction.insert(FLAGS, [{"id": new_id(), "name": name}])

        return write

    await asyncio.gather(*(writes.run(flag_row(f"{prefix}{n}")) for n in range(10)))
    assert len(inserts) == 1
    assert await flag_names(engine, prefix) == {f"{prefix}{n}" for n in range(10)}


async def test_writes_that_arrive_while_a_transaction_commits_share_the_next_one(engine):
    writes = GroupCommit(make_session_factory(engine))
    prefix = f"next-{new_id()}-"
    begun, release = asyncio.Event(), asyncio.Event()

    async def slow_first(transaction: Transaction) -> str:
        begun.set()
        await release.wait()
        return await flag_named(f"{prefix}first")(transaction)

    commits = commits_on(engine)
    first = asyncio.ensure_future(writes.run(slow_first))
    await begun.wait()
    later = asyncio.gather(*(writes.run(flag_named(f"{prefix}{n}")) for n in range(5)))
    await asyncio.sleep(0.05)
    release.set()
    names = await asyncio.wait_for(asyncio.gather(first, later), timeout=10)
    assert len(commits) == 2
    assert await flag_names(engine, prefix) == {names[0], *names[1]}


async def test_a_failing_write_fails_alone_and_the_others_still_commit(engine):
    writes = GroupCommit(make_session_factory(engine))
    prefix = f"alone-{new_id()}-"
    await writes.run(flag_named(f"{prefix}taken"))
    commits = commits_on(engine)
    outcomes = await asyncio.gather(
        writes.run(flag_named(f"{prefix}a")),
        writes.run(flag_named(f"{prefix}taken")),  # the name is unique: the shared transaction fails
        writes.run(flag_named(f"{prefix}b")),
        return_exceptions=True,
    )
    assert outcomes[0] == f"{prefix}a" and outcomes[2] == f"{prefix}b"
    assert isinstance(outcomes[1], IntegrityError)
    assert len(commits) == 2  # a and b, each on its own after the shared transaction rolled back
    assert await flag_names(engine, prefix) == {f"{prefix}taken", f"{prefix}a", f"{prefix}b"}


async def test_a_write_alone_is_committed_without_waiting_for_company(engine):
    writes = GroupCommit(make_session_factory(engine))
    prefix = f"single-{new_id()}-"
    assert await asyncio.wait_for(writes.run(flag_named(f"{prefix}x")), timeout=10) == f"{prefix}x"
    async with make_session_factory(engine)() as session:
        assert await session.scalar(select(func.count()).where(FeatureFlag.name == f"{prefix}x")) == 1
