"""Flask extensions, created unbound and attached to an app in `create_app`.

Flask-Migrate (with Alembic, Mako and Pygments, about a quarter of a web worker's memory) is only
for the command line: `init_migrations` attaches it there, never in a web worker.
"""

from typing import Any

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_migrations(app: Any) -> None:
    """Attach Flask-Migrate (the `flask db` commands and `flask_migrate.upgrade`) to the app, once."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from config import BASE_DIR

    Migrate(render_as_batch=True, compare_type=True).init_app(app, db, directory=str(BASE_DIR / "migrations"))
