"""Marketplace settings (read from the environment like the rest of linli's settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MarketplaceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", env_file=".env", extra="ignore")

    # 易生活助手: "1 minute to accept, 10 minutes to arrive". Fixed on each order when it is placed.
    order_accept_target_seconds: int = Field(default=60, ge=1, alias="LINLI_ORDER_ACCEPT_TARGET_SECONDS")
    order_arrive_target_seconds: int = Field(default=600, ge=1, alias="LINLI_ORDER_ARRIVE_TARGET_SECONDS")
    # How often the escalation job looks for orders nobody accepted in time.
    order_escalation_every_seconds: int = Field(default=15, ge=1, alias="LINLI_ORDER_ESCALATION_EVERY_SECONDS")


@lru_cache
def get_marketplace_settings() -> MarketplaceSettings:
    return MarketplaceSettings()
