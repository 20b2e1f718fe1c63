"""Error pages in the service's own style, and JSON errors for the API."""

from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.security import is_safe_next

TITLES = {
    400: "Sorry, there is a problem with your request",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "Sorry, that action is not possible here",
    413: "What you sent is too large",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
}


def _wants_json() -> bool:
    path = request.path
    return path.startswith(("/api/", "/webhooks/")) or path.endswith(".json")


def _render(status: int, message: str | None = None, back: str | None = None):  # type: ignore[no-untyped-def]
    if _wants_json():
        return jsonify({"error": TITLES.get(status, "Error"), "detail": message}), status
    return render_template(
        "errors/error.html", status=status, title=TITLES.get(status, "Error"), message=message, back=back
    ), status


def _form_page() -> str | None:
    """The page the refused form was on, to go back to: the address it was posted to, when that
    address also shows a page (a button posted to an action-only address has none)."""
    if request.method != "POST" or not is_safe_next(request.path):
        return None
    try:
        current_app.url_map.bind("localhost").match(request.path, method="GET")
    except HTTPException:
        return None
    return request.full_path.rstrip("?")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return _render(
            400,
            "The form had expired or was sent from somewhere else. Go back, refresh the page and try again.",
            back=_form_page(),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        # Our own explanation, given as `abort(404, "…")`, is shown; Werkzeug's stock wording is not.
        own = error.description if error.description != type(error).description else None
        response = _render(status, own)
        if status == 429 and error.response is not None:
            # Keep Flask-Limiter's Retry-After and rate-limit headers on our page.
            body, code = response
            resp = app.make_response((body, code))
            for header in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                if header in error.response.headers:
                    resp.headers[header] = error.response.headers[header]
            return resp
        if status == 405 and error.get_response().headers.get("Allow"):
            resp = app.make_response(response)
            resp.headers["Allow"] = error.get_response().headers["Allow"]
            return resp
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):  # type: ignore[no-untyped-def]
        # A database error leaves the session unusable until it is rolled back, and the page's
        # header reads the signed-in user from it: roll back first, so the page itself renders.
        from app.extensions import db

        db.session.rollback()
        return _render(500)
