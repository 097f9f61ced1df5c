"""Leadership: which one of several nodes on one database runs a once-per-exchange job (housekeeping)."""

from __future__ import annotations

from typing import Protocol


class Leadership(Protocol):
    def leads(self) -> bool:
        """Whether this node runs the job now; a node that does not lead tries again on its next call."""
        ...

    def release(self) -> None:
        """Stop leading (at shutdown), so another node takes over at once."""
        ...
