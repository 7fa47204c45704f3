"""The complete schema: imports every package's models onto the shared metadata.

Only composition code (migrations, `app.main`, tests) imports this module.
"""

from sqlalchemy import MetaData

from app import models as app_models
from app.core.db import Base
from lockers import credentials as locker_credentials
from lockers import models as locker_models
from logistics import models as logistics_models
from notifications import models as notification_models
from ops_dashboard import models as ops_dashboard_models

MODEL_MODULES = (
    app_models,
    logistics_models,
    locker_models,
    locker_credentials,
    notification_models,
    ops_dashboard_models,
)


def load_all_models() -> MetaData:
    """The full metadata: every package's models are imported with this module."""
    return Base.metadata
