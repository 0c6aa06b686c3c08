"""The JSON bodies the API accepts (the pages validate a new hook with ``HookIn`` too)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from dashboard.deps import MAX_FILE_CHARS, Plain


class DecisionIn(BaseModel):
    decision: Literal["confirm", "dismiss", "escalate"]
    note: Annotated[Plain, Field(max_length=4000)] = ""
    override: bool = False  # change the decision of an alert someone already actioned


class FileIn(BaseModel):
    content: Annotated[Plain, Field(max_length=MAX_FILE_CHARS)]


class ModeIn(BaseModel):
    mode: Literal["enforce", "shadow"]


class StreamIn(BaseModel):
    url: str = Field(min_length=1, max_length=2048)


StreamId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]  # as livewatch.assignment


class ExplainIn(BaseModel):
    text: Annotated[Plain, Field(min_length=1, max_length=20_000)]


class HookIn(BaseModel):
    name: Annotated[Plain, Field(min_length=1, max_length=128)]
    url: Annotated[Plain, Field(min_length=8, max_length=2000, pattern=r"^https?://[^\s/]+(/\S*)?$")]
    brands: list[Annotated[Plain, Field(min_length=1, max_length=256)]] = Field(default_factory=list, max_length=100)
    secret: Annotated[Plain, Field(pattern=r"^whsec_[A-Za-z0-9+/=]{24,200}$")] | None = None


Brand = Annotated[Plain, Field(min_length=1, max_length=256)]


class TokenIn(BaseModel):
    name: Annotated[Plain, Field(min_length=1, max_length=128)]
    role: Literal["moderator", "ops", "admin"]
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class UserIn(BaseModel):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
    password: Annotated[Plain, Field(min_length=10, max_length=1024)]
    role: Literal["rights_holder", "moderator", "ops", "admin"]
    brands: list[Brand] = Field(default_factory=list, max_length=100)


class RoleIn(BaseModel):
    role: Literal["rights_holder", "moderator", "ops", "admin"]
    brands: list[Brand] = Field(default_factory=list, max_length=100)

