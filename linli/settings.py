"""One settings object, read from the environment (and an optional `.env`)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", env_file=".env", extra="ignore")

    # Unset means "start embedded servers under data_dir" (see linli.embedded).
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    # Dramatiq keys and queues live under this namespace so several deployments can share a Redis.
    redis_namespace: str = Field(default="linli", alias="LINLI_REDIS_NAMESPACE")
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("linli")), alias="LINLI_DATA_DIR")

    secret_key: SecretStr = Field(default=SecretStr("dev-only-change-me-" + "0" * 32), alias="LINLI_SECRET_KEY")
    token_lifetime_minutes: int = Field(default=60 * 12, ge=1, alias="LINLI_TOKEN_LIFETIME_MINUTES")
    default_timezone: str = Field(default="Asia/Shanghai", alias="LINLI_DEFAULT_TIMEZONE")
    environment: str = Field(default="development", alias="LINLI_ENV")

    db_pool_min: int = Field(default=2, alias="LINLI_DB_POOL_MIN")
    db_pool_max: int = Field(default=20, alias="LINLI_DB_POOL_MAX")
    max_body_bytes: int = Field(default=1_000_000, alias="LINLI_MAX_BODY_BYTES")

    # Password hashing cost (argon2id; defaults are argon2-cffi's RFC 9106 profile). Tests lower them.
    argon2_time_cost: int = Field(default=3, ge=1, alias="LINLI_ARGON2_TIME_COST")
    argon2_memory_kib: int = Field(default=65536, ge=8, alias="LINLI_ARGON2_MEMORY_KIB")
    argon2_parallelism: int = Field(default=4, ge=1, alias="LINLI_ARGON2_PARALLELISM")

    # Login throttling: failures allowed per window before 429.
    login_failures_per_phone: int = Field(default=5, alias="LINLI_LOGIN_FAILURES_PER_PHONE")
    login_failures_per_ip: int = Field(default=50, alias="LINLI_LOGIN_FAILURES_PER_IP")
    login_window_seconds: int = Field(default=15 * 60, alias="LINLI_LOGIN_WINDOW_SECONDS")

    # 易生活助手: "1 minute to accept, 10 minutes to arrive" for on-demand orders (fixed on each order).
    order_accept_target_seconds: int = Field(default=60, ge=1, alias="LINLI_ORDER_ACCEPT_TARGET_SECONDS")
    order_arrive_target_seconds: int = Field(default=600, ge=1, alias="LINLI_ORDER_ARRIVE_TARGET_SECONDS")
    # How often the escalation job looks for orders nobody accepted in time.
    order_escalation_every_seconds: int = Field(default=15, ge=1, alias="LINLI_ORDER_ESCALATION_EVERY_SECONDS")

    # How often an idle outbox relay looks for new rows (there is no NOTIFY: see linli/outbox.py).
    outbox_poll_seconds: float = Field(default=0.1, gt=0, le=60, alias="LINLI_OUTBOX_POLL_SECONDS")
    # A request's headers must arrive within this of the connection opening, and its body within the next of the
    # headers, or the connection is closed (slow-loris; server/http.py).
    http_head_timeout_seconds: float = Field(default=10, gt=0, le=300, alias="LINLI_HTTP_HEAD_TIMEOUT_SECONDS")
    http_body_timeout_seconds: float = Field(default=30, gt=0, le=3600, alias="LINLI_HTTP_BODY_TIMEOUT_SECONDS")
    # How long an idle kept-alive connection stays open. Longer than a proxy's or client's own idle timeout
    # (nginx upstream keepalive: 60 s), so the server is never the one closing a connection the other side is
    # just reusing — a request lost to that race fails with a bare connection error (uvicorn's default: 5 s).
    http_keep_alive_seconds: int = Field(default=75, ge=1, le=3600, alias="LINLI_HTTP_KEEP_ALIVE_SECONDS")
    # A worker that sent Redis no heartbeat for this long is taken for dead (SIGKILLed, its host gone): the
    # messages it had taken go back to their queues for the others (Dramatiq's default is 60 s).
    worker_heartbeat_seconds: int = Field(default=60, ge=5, le=3600, alias="LINLI_WORKER_HEARTBEAT_SECONDS")
    # GET /metrics: this bearer token when set, else loopback clients only (linli.metrics).
    metrics_token: SecretStr | None = Field(default=None, alias="LINLI_METRICS_TOKEN")
    # `linli worker` serves Dramatiq's Prometheus metrics here (workers.metrics; Dramatiq's own variable names).
    # Loopback by default: the worker's port has no token check, so open it (0.0.0.0) only where the network
    # is the monitoring system's, as in a Kubernetes pod. Port 0 turns the worker's metrics off.
    worker_metrics_host: str = Field(default="127.0.0.1", alias="dramatiq_prom_host")
    worker_metrics_port: int = Field(default=9191, ge=0, le=65535, alias="dramatiq_prom_port")
    # The web console's session cookie is sent over HTTPS only; browsers treat http://127.0.0.1 and
    # http://localhost as secure, so only a console served over plain HTTP on another host must turn this off.
    cookie_secure: bool = Field(default=True, alias="LINLI_COOKIE_SECURE")
    # Where the public reaches this deployment: the base of links printed for anyone to follow, such as the
    # verification URL in a volunteer service certificate's QR code.
    public_base_url: str = Field(default="http://127.0.0.1:8000", alias="LINLI_PUBLIC_BASE_URL")
    log_json: bool = Field(default=False, alias="LINLI_LOG_JSON")
    log_level: str = Field(default="INFO", alias="LINLI_LOG_LEVEL")

    # SMS gateway (notifications.sms). No endpoint: messages are only logged (notifications.channels).
    sms_endpoint_url: str | None = Field(default=None, alias="LINLI_SMS_ENDPOINT_URL")
    sms_api_key: str = Field(default="", alias="LINLI_SMS_API_KEY")
    sms_api_secret: SecretStr = Field(default=SecretStr(""), alias="LINLI_SMS_API_SECRET")
    sms_sender_id: str = Field(default="邻里", alias="LINLI_SMS_SENDER_ID")
    sms_timeout_seconds: float = Field(default=5.0, gt=0, le=60, alias="LINLI_SMS_TIMEOUT_SECONDS")
    # Shared with the gateway for signing inbound replies; unset refuses every inbound call.
    sms_webhook_secret: SecretStr = Field(default=SecretStr(""), alias="LINLI_SMS_WEBHOOK_SECRET")

    @property
    def token_lifetime(self) -> timedelta:
        return timedelta(minutes=self.token_lifetime_minutes)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Forget the cached settings (after the CLI or the tests changed the environment)."""
    get_settings.cache_clear()
    return get_settings()
