"""The server's one settings object: environment (``METERLINK_*``) and an optional TOML file.

Built once at start-up and injected (``create_app(settings)``), never read at import time.
Validation errors name the field.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINK_", extra="forbid")

    database_url: str | None = None  # None: an embedded PostgreSQL in data_dir/pg
    mqtt_url: str | None = None  # None: an embedded MQTT broker (amqtt)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls_ca: Path | None = None
    mqtt_tls_cert: Path | None = None
    mqtt_tls_key: Path | None = None
    mqtt_root: str = "meterlink"
    mqtt_share_group: str | None = "meterlink-ingest"
    mqtt_client_id: str | None = None

    data_dir: Path = Path("var/server")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # the address people and browsers use, e.g. https://meterlink.example.org behind the TLS
    # reverse proxy: https makes the sign-in cookie Secure, and its origin is the one
    # cookie-authenticated changes must come from (server.api.web_security)
    public_url: str | None = None
    # addresses whose X-Forwarded-For/-Proto headers are believed (comma-separated, or "*"):
    # the reverse proxy's, so the client address (sign-in throttling, logs) is the real one
    trusted_proxies: str = "127.0.0.1"

    utility_timezone: str = "Asia/Shanghai"
    retention_days: int = Field(default=1095, ge=7)
    # readings of the last this many closed days stay in the hot table as they arrived; the
    # nightly compaction moves older days into the compact history (server.db.compact)
    hot_days: int = Field(default=7, ge=1, le=366)
    future_tolerance_s: int = Field(default=900, ge=0)

    ingest_batch_max: int = Field(default=5000, ge=1, le=200_000)
    ingest_batch_ms: int = Field(default=200, ge=1, le=60_000)
    # batches stored in parallel (one connection each): decoding the next batch overlaps the
    # merge of the previous ones; acknowledgements stay in arrival order
    ingest_writers: int = Field(default=2, ge=1, le=16)
    # readiness fails (503) when a received message has waited this long unacknowledged
    ingest_stall_s: float = Field(default=120, gt=0, le=86_400)
    ingest_enabled: bool = True

    jobs_enabled: bool = True
    collection_window_end: str = "06:00"
    reread_rate_per_gateway_per_min: int = Field(default=60, ge=1)
    # a command unanswered this long after it was sent (or queued, if never sent) is marked
    # expired and no longer sent; a result that still comes is recorded
    command_ttl_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    # the anomaly rules also run as data arrives, for the meter-days queued since the last
    # run, every this many seconds (0 turns the incremental run off; the daily scan stays)
    checks_incremental_s: int = Field(default=300, ge=0, le=86_400)
    success_threshold: float = Field(default=0.98, gt=0, le=1)

    auth_secret: SecretStr | None = None
    auth_token_ttl_s: int = Field(default=8 * 3600, ge=60)
    admin_password: SecretStr | None = None
    # sign-in: this many refused attempts for one name within login_lock_s lock it for
    # login_lock_s; this many from one address within login_lock_s throttle the address
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_lock_s: int = Field(default=900, ge=1, le=86_400)
    login_address_max_failures: int = Field(default=50, ge=1, le=100_000)
    # password hashing: workers running at once, and sign-ins waiting beyond them
    hashing_workers: int = Field(default=2, ge=1, le=64)
    hashing_queue: int = Field(default=16, ge=0, le=10_000)

    pool_min: int = Field(default=1, ge=1)
    pool_max: int = Field(default=10, ge=1)

    @field_validator("utility_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("collection_window_end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        hh, _, mm = value.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"expected HH:MM, got {value!r}")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected https://host[:port] (or http://), got {value!r}")
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _hot_within_retention(self) -> Settings:
        if self.hot_days >= self.retention_days:
            raise ValueError(
                f"hot_days ({self.hot_days}) must be less than retention_days "
                f"({self.retention_days})"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.utility_timezone)

    @classmethod
    def from_file(cls, path: Path | str, **overrides: Any) -> Settings:
        """Settings from a TOML file (keys as the field names); environment wins."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"settings file {p} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"settings file {p} is not valid TOML: {exc}") from None
        env_set = {k[len("METERLINK_") :].lower() for k in os.environ if k.startswith("METERLINK_")}
        merged = {k: v for k, v in data.items() if k not in env_set}
        merged.update(overrides)
        return cls(**merged)
