"""The model store: trained model versions (immutable), the live slot, and the trail of promotions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    created_at: datetime
    created_by: str
    cutoff: datetime
    source: str  # store / log: the training rows came from the stored decisions, or the running feature log
    metrics: dict[str, Any]
    meta: dict[str, Any]
    live: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "created_at": self.created_at.isoformat(), "created_by": self.created_by,
                "cutoff": self.cutoff.isoformat(), "source": self.source, "metrics": self.metrics,
                "live": self.live}


@dataclass(frozen=True, slots=True)
class ModelDeployment:
    generation: int
    live: str | None


class ModelStore(Protocol):
    def add(self, info: ModelInfo, booster: str) -> bool:
        """Store a version (False: that id is stored already, nothing changed)."""
        ...

    def get(self, model_id: str) -> ModelInfo:
        """NotFound for an unknown id."""
        ...

    def booster(self, model_id: str) -> str:
        """The model's LightGBM text."""
        ...

    def versions(self) -> list[ModelInfo]:
        """Every version, newest first."""
        ...

    def deployment(self) -> ModelDeployment:
        ...

    def promote(self, model_id: str, *, actor: str, at: datetime) -> ModelDeployment:
        """Make ``model_id`` live (NotFound if unknown, Conflict if live already); nothing changes on error."""
        ...

    def rollback(self, *, actor: str, at: datetime) -> ModelDeployment:
        """Back to the version live before the current one was promoted (Conflict if there is none)."""
        ...
