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
    malloc_mmap_threshold: int = Field(
        default=131_072, ge=0, le=2**30,
        description="zaslon serve and zaslon worker ask glibc's allocator to map every allocation of at least this "
                    "many bytes on its own and give it back when freed (0: glibc's own sliding threshold, under "
                    "which the growing ledger's temporary arrays left the heap fragmented: the sustained load's "
                    "resident memory grew 17 % instead of 6 %, BENCHMARKS.md)",
    )
    malloc_arena_max: int = Field(
        default=2, ge=0, le=64,
        description="and at most this many allocator arenas for the process's threads (0: glibc's default, "
                    "8 per core)",
    )
    snapshot_interval_s: float = Field(
        default=300.0, ge=0, le=86_400,
        description="the scoring engine's feature state is snapshotted into the store this often (and at "
                    "shutdown); a restart replays only the transfers decided after the last snapshot. 0: only "
                    "at shutdown",
    )
    model_poll_s: float = Field(
        default=2.0, gt=0, le=3600,
        description="a running exchange looks for a newly promoted model this often (hot reload)",
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
    drift_check_s: float = Field(
        default=86_400.0, ge=0, le=30 * 86_400,
        description="`zaslon serve` applies the drift rule (docs/models.md) to the live model this often and, when "
                    "it fires, trains a new version on what reports taught by then (0: never)",
    )
    drift_promote: bool = Field(
        default=False, description="put a version trained on drift live at once (default: stored for analysts)")
    webhook_max_attempts: int = Field(default=8, ge=1, le=100, description="deliveries of one webhook, at most")
    webhook_backoff_s: float = Field(default=2.0, gt=0, le=3600,
                                     description="first retry after this long, doubling each time")
    log_json: bool = False
    card_pepper: SecretStr = Field(
        default=SecretStr("zaslon-dev-card-pepper-change-me"),
        description="key of the HMAC that stores card numbers from incident reports; set it in production",
    )
    # --- cross-border sharing (STIX 2.1 / TAXII 2.1, docs/sharing.md)
    exchange_name: str = Field(default="Zaslon BY", description="this exchange's name in what it shares")
    country: str = Field(default="BY", description="this exchange's country (ISO 3166 alpha-2)")
    stix_tlp_defaults: dict[str, str] = Field(
        default_factory=lambda: {"indicator": "green", "incident": "amber", "grouping": "amber", "sighting": "amber"},
        description="the TLP 2.0 marking per STIX object type, unless an analyst marks the object otherwise",
    )
    taxii_max_objects: int = Field(default=10_000, ge=1, description="most objects in one TAXII add request")
    taxii_page_size: int = Field(default=1_000, ge=1, description="most objects in one TAXII page")
    taxii_requests_per_minute: int = Field(default=600, ge=1, description="per partner; over it: 429")
    signing_key: SecretStr = Field(
        default=SecretStr("5a" * 32),
        description="this exchange's Ed25519 private key (32-byte seed, hex) that signs freeze requests to "
                    "partners; set it in production (`zaslon partners signing-key` prints its public key)",
    )
    signing_key_id: str = Field(default="sig-1", description="the id partners know this signing key by")
    freeze_abroad_legal_basis: str = Field(
        default="Request for legal assistance in a fraud case (Minsk Convention 1993, art. 4-8)",
        description="the legal basis a freeze request to a partner states when a trace finds money abroad",
    )
    freeze_abroad_hours: float = Field(default=72.0, gt=0, description="deadline of a freeze request abroad")
    freeze_abroad_currency: str = Field(default="BYN", description="the currency traced amounts are in")
    partner_sync_interval_s: float = Field(
        default=60.0, ge=0, description="`zaslon serve` syncs with every partner this often (0: never on a "
                                        "schedule); a new freeze request abroad is pushed at once either way")
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
    bus_round_ms: float = Field(default=5.0, ge=0, le=1000,
                                description="a worker's rounds start at most this often (fewer, larger rounds: "
                                "less CPU per transfer, up to this much more latency)")
    bus_snapshot_every: int = Field(default=500, ge=1,
                                    description="a worker snapshots a partition's state every this many batches")
    bus_fault: str = Field(default="", description="fault injection for the crash tests only: "
                           "kill-before-commit:N, kill-after-commit:N (kill -9 itself at its N-th batch), "
                           "poison:TRANSFER_ID (scoring that transfer raises)")
    desk_idle_minutes: float = Field(default=30.0, gt=0, description="a desk session unused this long ends")
    desk_clock_limits_min: dict[str, tuple[int, int]] = Field(
        default={"order": (15, 30), "ack": (30, 60), "freeze": (60, 120)},
        description="the desk's stage clocks turn amber, then red, after these minutes: report -> first order "
                    "(order), order -> bank acknowledgement (ack), acknowledgement -> frozen (freeze)",
    )

    @model_validator(mode="after")
    def _known_order_type(self) -> Settings:
        if self.order_type not in self.order_types:
            raise ValueError(f"order_type {self.order_type!r} is not one of order_types {sorted(self.order_types)}")
        return self
