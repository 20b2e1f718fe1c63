"""How Flask-Login finds the signed-in person: by the token of their open session."""

from flask_login import LoginManager

from app.accounts import auth
from app.models import User


def init_login(login_manager: LoginManager) -> None:
    login_manager.login_view = "account.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token: str) -> User | None:
        return auth.user_for_session(session_token)
