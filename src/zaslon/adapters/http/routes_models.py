"""The fraud model's versions (analysts): train on what the exchange was told, list, promote, roll back.

Reading needs ``rules:read``, changing ``rules:write`` (the police desk's analysts, as for rule sets). A
promotion or rollback takes effect in this process at once and in every other within its poll interval.
An unknown version is a 404 and a malformed one a 422; either way nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AwareDatetime, Field
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.schemas import Strict
from zaslon.adapters.http.state import state_of

router = APIRouter(tags=["model"])

Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$", description="a model version id")]


class TrainIn(Strict):
    cutoff: AwareDatetime = Field(description="train on transfers scored before this moment, labelled by the "
                                  "incidents reported before it")
    min_positives: int = Field(default=5, ge=1, le=1_000_000)
    promote: bool = Field(default=False, description="put the new version live at once")
    from_store: bool | None = Field(default=None, description="rebuild the training rows from the store (default: "
                                    "when this server did not score every stored transfer itself)")


def _deployment(request: Request) -> dict[str, Any]:
    from zaslon.flow.models import deployment

    x = state_of(request).exchange
    dep = deployment(x.db)
    return {"live": dep.live, "generation": dep.generation, "running": x.scoring.model_version}


@router.get("/v1/model")
def list_models(request: Request, _p: Principal = Depends(require_scope("rules:read"))) -> dict[str, Any]:
    """The live version, the one this server runs, and every stored version (newest first)."""
    return {**_deployment(request), "versions": [i.to_dict() for i in state_of(request).exchange.list_models()]}


@router.get("/v1/model/drift")
def model_drift(request: Request, _p: Principal = Depends(require_scope("rules:read"))) -> dict[str, Any]:
    """The drift rule applied to the live model now (docs/models.md), and the last check housekeeping made:
    ``reason`` is set when the rule asks for a retrain. ``check`` is null without a stored live model."""
    x = state_of(request).exchange
    return {"running": x.scoring.model_version, "check": x.check_drift(), "last_scheduled": x.last_drift}


@router.get("/v1/model/versions/{version}")
def show_model(version: Version, request: Request,
               _p: Principal = Depends(require_scope("rules:read"))) -> dict[str, Any]:
    from zaslon.flow.models import get_model

    info = get_model(state_of(request).db, version)
    return {**info.to_dict(), "meta": info.meta}


@router.post("/v1/model/train")
async def train_model(body: TrainIn, request: Request,
                      principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    """Train a version on what reports taught by ``cutoff`` (``trained: false`` when too few reports were
    made by then); it goes live only with ``promote``."""
    x = state_of(request).exchange
    trained = await run_in_threadpool(x.train_model, body.cutoff, min_positives=body.min_positives,
                                      promote=body.promote, from_store=body.from_store, actor=principal.org_id)
    if trained is None:
        return {"trained": False, "model_version": x.scoring.model_version}
    return {"trained": True, "model_version": trained.model_id, "live": body.promote,
            "metrics": trained.meta.get("metrics"), "meta": trained.meta}


@router.post("/v1/model/{version}/promote")
def promote_model(version: Version, request: Request,
                  principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    state_of(request).exchange.promote_model(version, actor=principal.org_id)
    return _deployment(request)


@router.post("/v1/model/rollback")
def rollback_model(request: Request, principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    state_of(request).exchange.rollback_model(actor=principal.org_id)
    return _deployment(request)
