"""The bare route the benchmark compares everything with: Flask, one view, a short string.

gunicorn --workers 2 bench.bare:app
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
