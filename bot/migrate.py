"""Run the Alembic migrations programmatically (make run, tests)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from bot.settings import ROOT


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "bot" / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
