"""The one settings object. Read once at the edge and passed in; the core never reads it."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrderType(BaseModel):
    """The legal basis an order is issued under and how long the bank has to act on it."""

    legal_reference: str = Field(description="quoted on every order; {incident_id} is replaced")
    deadline_hours: float = Field(gt=0, le=24 * 365)


DEFAULT_ORDER_TYPES = {
    # Seizure of property in criminal procedure (Criminal Procedure Code of the Republic of Belarus).
    "freeze": OrderType(legal_reference="Art. 164 CPC RB / incident {incident_id}", deadline_hours=72),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZASLON_", extra="ignore")

    database_url: str = "sqlite:///zaslon.db"
    bus_url: str = "inproc://"
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=5_000_000, description="largest request body the API accepts")
    max_batch: int = Field(default=10_000, description="most transfers in one batch request")
    score_window_ms: float = Field(
        default=8.0, ge=0, le=1000,
        description="real-time scoring decides queued requests together at most once per this many ms",
    )
    commit_window_ms: float = Field(
        default=4.0, ge=0, le=1000,
        description="on a server database, decisions are committed at most once per this many ms",
    )
    hold_days: float = Field(default=2.0, description="cooling-off period of a hold decision")
    ledger_lag_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="the trace's ledger is kept in step in the background up to this many seconds behind the "
                    "newest stored transfer: banks' transfers arrive out of time order by up to this much",
    )
    order_types: dict[str, OrderType] = Field(
        default_factory=lambda: dict(DEFAULT_ORDER_TYPES),
        description="order types by name (JSON in ZASLON_ORDER_TYPES): legal reference and deadline of each",
    )
    order_type: str = Field(default="freeze", description="the order type a trace issues")
    order_expiry_interval_s: float = Field(
        default=60.0, ge=0, le=86_400,
        description="`zaslon serve` expires orders past their deadline this often (0: never)",
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=100, description="deliveries of one webhook, at most")
    webhook_backoff_s: float = Field(default=2.0, gt=0, le=3600,
                                     description="first retry after this long, doubling each time")
    log_json: bool = False
    card_pepper: SecretStr = Field(
        default=SecretStr("zaslon-dev-card-pepper-change-me"),
        description="key of the HMAC that stores card numbers from incident reports; set it in production",
    )
    # Per API key, a token bucket (adapters/http/ratelimit.py): over it, 429 with Retry-After. 0 turns it off.
    rate_limit_per_s: float = Field(default=2000.0, ge=0, description="requests per second each API key may send")
    rate_limit_burst: float = Field(default=4000.0, ge=1, description="requests an API key may send at once")
    metrics_open_on_loopback: bool = Field(
        default=False, description="serve /metrics without a key to clients on 127.0.0.0/8 or ::1 (a local scraper)"
    )

    # ---- the scale-out shape (ZASLON_BUS_URL=nats://…, docs/deployment.md) ----
    bus_partitions: int = Field(default=16, ge=1, le=4096,
                                description="partitions of accounts; the same on every node, fixed for a deployment")
    bus_reply_timeout_s: float = Field(default=5.0, gt=0, le=60,
                                       description="an API node waits this long for a worker's decision, then 503")
    bus_ack_wait_s: float = Field(default=5.0, gt=0, le=600,
                                  description="a message not acknowledged this long after delivery is redelivered")
    bus_max_deliver: int = Field(default=5, ge=1, le=100,
                                 description="a message failing this many deliveries goes to the dead-letter subject")
    bus_batch: int = Field(default=256, ge=1, le=10_000, description="most messages a worker scores in one batch")
    bus_snapshot_every: int = Field(default=500, ge=1,
                                    description="a worker snapshots a partition's state every this many batches")
    bus_fault: str = Field(default="", description="fault injection for the crash tests only: "
                           "kill-before-commit:N, kill-after-commit:N (kill -9 itself at its N-th batch), "
                           "poison:TRANSFER_ID (scoring that transfer raises)")

    @model_validator(mode="after")
    def _known_order_type(self) -> Settings:
        if self.order_type not in self.order_types:
            raise ValueError(f"order_type {self.order_type!r} is not one of order_types {sorted(self.order_types)}")
        return self
