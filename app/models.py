"""Imports every model module so the metadata is complete (Alembic, test schema)."""

from app.auth import models as auth_models
from app.catalog import models as catalog_models
from app.cities import models as city_models
from app.events import models as event_models
from app.groupbuys import models as groupbuy_models
from app.neighborhoods import models as neighborhood_models
from app.orders import models as order_models
from app.payments import models as payment_models
from app.residents import models as resident_models
from app.staff import models as staff_models
from app.windows import models as window_models

__all__ = [
    "auth_models",
    "catalog_models",
    "city_models",
    "event_models",
    "groupbuy_models",
    "neighborhood_models",
    "order_models",
    "payment_models",
    "resident_models",
    "staff_models",
    "window_models",
]
