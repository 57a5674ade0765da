"""Action sequences of the caller: list, cancel, run a manual one. Another user's sequence is a 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.models import ActionSequence
from server.api import authenticated
from server.auth import Principal
from server.context import app_context
from server.errors import ApiError, not_found
from tools.scheduler import sequences


def sequence_json(row: ActionSequence) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "trigger": row.trigger, "trigger_config": row.trigger_config,
        "steps": row.steps, "status": row.status, "next_step": row.next_step, "last_error": row.last_error,
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


async def _owned(session: AsyncSession, principal: Principal, sequence_id: str) -> ActionSequence:
    row = await session.get(ActionSequence, sequence_id)
    if row is None or row.user_id != principal.user_id:
        raise not_found("no such sequence")
    return row


@authenticated
async def list_sequences(request: Request, session: AsyncSession, principal: Principal) -> Response:
    rows = await session.scalars(
        select(ActionSequence).where(ActionSequence.user_id == principal.user_id).order_by(ActionSequence.created_at)
    )
    return JSONResponse({"sequences": [sequence_json(row) for row in rows]})


@authenticated
async def cancel_sequence(request: Request, session: AsyncSession, principal: Principal) -> Response:
    row = await _owned(session, principal, request.path_params["sequence_id"])
    if not await sequences.cancel(session, row):
        raise ApiError(409, "INVALID_ARGUMENT", f"this sequence is already {row.status}")
    await session.refresh(row)
    return JSONResponse(sequence_json(row))


@authenticated
async def run_sequence(request: Request, session: AsyncSession, principal: Principal) -> Response:
    row = await _owned(session, principal, request.path_params["sequence_id"])
    if row.trigger != "manual":
        raise ApiError(409, "INVALID_ARGUMENT", f"this sequence starts on its {row.trigger} trigger, not by hand")
    if not await sequences.start(session, row, app_context(request).services.clock()):
        raise ApiError(409, "INVALID_ARGUMENT", f"this sequence is {row.status}, not waiting to run")
    await session.refresh(row)
    return JSONResponse(sequence_json(row))


routes = [
    Route("/api/sequences", list_sequences, methods=["GET"]),
    Route("/api/sequences/{sequence_id}/cancel", cancel_sequence, methods=["POST"]),
    Route("/api/sequences/{sequence_id}/run", run_sequence, methods=["POST"]),
]
