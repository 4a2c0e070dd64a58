"""The Alembic migrations build exactly the schema the models describe."""

import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

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
