"""Bodies of the API token endpoints. A token's secret appears in one answer only: the one creating it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from db.accounts import NewToken
from db.models import ApiToken

# Written as every other answer writes times (`datetime.isoformat`: +00:00, not pydantic's Z).
Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName = Field(default="default", description="a label to tell tokens apart")
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="when the token stops working (ISO 8601 with a zone, at most a year ahead); none: never",
    )


class TokenInfo(BaseModel):
    """A token as listed: never its secret."""

    id: str
    name: str
    status: Literal["active", "expired", "revoked"]
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, row: ApiToken, now: datetime) -> TokenInfo:
        return cls(
            id=row.id, name=row.name, status=_status(row, now), created_at=row.created_at,
            expires_at=row.expires_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at,
        )


class CreatedToken(TokenInfo):
    token: str = Field(description="the secret: shown in this answer only")

    @classmethod
    def of_new(cls, new: NewToken, now: datetime) -> CreatedToken:
        return cls(**TokenInfo.of(new.row, now).model_dump(), token=new.secret)


def _status(row: ApiToken, now: datetime) -> Literal["active", "expired", "revoked"]:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
