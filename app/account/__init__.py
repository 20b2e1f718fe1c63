from flask import Blueprint
from flask_login import LoginManager

from app.models import User
from app.services import accounts

bp = Blueprint("account", __name__, url_prefix="/account")


def init_login(login_manager: LoginManager) -> None:
    login_manager.login_view = "account.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token: str) -> User | None:
        return accounts.user_for_session(session_token)


from app.account import routes  # noqa: E402,F401  (registers the views)
