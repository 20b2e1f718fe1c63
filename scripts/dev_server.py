"""Serve the app for development on http://127.0.0.1:5000."""

from __future__ import annotations

import os

from app import create_app


def main() -> None:
    app = create_app()
    port = int(os.environ.get("PORT", "5000"))
    print(f"Pledgeline is running at http://127.0.0.1:{port}  (Ctrl+C to stop)")
    app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
