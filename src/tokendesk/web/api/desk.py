"""``/api/v1/desk-file`` (export), ``/api/v1/desk-file/schema`` and ``/api/v1/apply``:
the desk as code, for pipelines."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from tokendesk.services.desk.file import DeskFile, published_schema
from tokendesk.services.desk.references import SERVER_ENV_PREFIX, SecretReader
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(tags=["desk file"], responses=error_responses())


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    desk: DeskFile = Field(description="The desk file, as JSON.")
    dry_run: StrictBool = Field(default=False, description="Only plan: change nothing.")
    prune: StrictBool = Field(
        default=False,
        description="Delete connections, custom roles and webhooks the file leaves out.")


class FieldChangeOut(BaseModel):
    field: str
    old: Any = None
    new: Any = None
    secret: str | None = Field(default=None, description="set, changed, unchanged or removed")


class PlannedChangeOut(BaseModel):
    action: str = Field(description="create, update or delete")
    kind: str = Field(
        description="role, connection, webhook, egress_allowlist, proxy or smtp")
    name: str
    fields: list[FieldChangeOut]


class PlanOut(BaseModel):
    dry_run: bool
    applied: bool
    prune: bool
    summary: dict[str, int]
    changes: list[PlannedChangeOut]
    unchanged: list[str]
    kept: list[str] = Field(description="Entries the file leaves out, kept (no prune).")


@router.get("/desk-file/schema")
def desk_file_schema(caller: Caller) -> dict[str, Any]:
    """The desk file's JSON Schema (2020-12), as `tokendesk export --schema` prints it."""
    return published_schema()


@router.get("/desk-file", response_model_exclude_none=True)
def export_desk_file(td: App, caller: Caller) -> DeskFile:
    """The desk as a desk file, as JSON (`tokendesk export` writes it as YAML); secrets as
    ``{env: TOKENDESK_SECRET_...}`` references, never values. Administrators only."""
    return td.desk.export(caller)


@router.post("/apply")
def apply_desk_file(td: App, caller: Caller, body: ApplyRequest) -> PlanOut:
    """Apply a desk file in one transaction, or with ``dry_run`` only plan it; administrators
    only. Secret references are read on the server: only ``{env: TOKENDESK_SECRET_...}``."""
    reader = SecretReader(os.environ, None, SERVER_ENV_PREFIX)
    plan = td.desk.apply(caller, body.desk, reader, dry_run=body.dry_run, prune=body.prune)
    return PlanOut.model_validate(
        {"dry_run": body.dry_run, "applied": not body.dry_run, **plan.as_json()})
