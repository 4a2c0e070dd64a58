"""The baseline: a bare Flask JSON route, served under the same gunicorn settings as Heli."""

from flask import Flask

app = Flask(__name__)


@app.get("/bare")
def bare():
    return {"items": [], "total": 0}
