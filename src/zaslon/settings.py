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
    desk_idle_minutes: float = Field(default=30.0, gt=0, description="a desk session unused this long ends")
    desk_clock_limits_min: dict[str, tuple[int, int]] = Field(
        default={"order": (15, 30), "ack": (30, 60), "freeze": (60, 120)},
        description="the desk's stage clocks turn amber, then red, after these minutes: report -> first order "
                    "(order), order -> bank acknowledgement (ack), acknowledgement -> frozen (freeze)",
    )
