"""The Alembic migrations build exactly the schema the models describe."""

import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from backend.config import PROJECT_ROOT
from backend.extensions import db


def test_upgrade_head_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FLASK_APP": "wsgi",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }
    if not env["REDIS_URL"]:
        env.pop("REDIS_URL")
    subprocess.run(
        [sys.executable, "-m", "flask", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata
        )
    assert diff == []


def test_the_shipping_zones_migration_downgrades_and_upgrades_again(tmp_path):
    """0010 creates the zones with a fresh install's table; one step down removes them."""
    url = f"sqlite:///{tmp_path / 'stepped.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}

    def flask_db(*args):
        subprocess.run(
            [sys.executable, "-m", "flask", "db", *args],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )

    def zones() -> dict | None:
        engine = create_engine(url)
        with engine.connect() as conn:
            if "shipping_zones" not in inspect(conn).get_table_names():
                return None
            rows = conn.execute(text("SELECT province, ships_live FROM shipping_zones"))
            return {province: bool(live) for province, live in rows}

    flask_db("upgrade", "ccd02f21436d")
    assert zones() == {
        "*": True,
        "新疆维吾尔自治区": False,
        "西藏自治区": False,
        "青海省": False,
        "香港特别行政区": False,
        "澳门特别行政区": False,
        "台湾省": False,
    }
    flask_db("downgrade", "4f1d8a6c2e90")
    assert zones() is None
    flask_db("upgrade", "head")
    assert zones()["*"] is True
