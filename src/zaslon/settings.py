"""The one settings object. Read once at the edge and passed in; the core never reads it."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
