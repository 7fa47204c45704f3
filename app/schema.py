"""The complete schema: imports every package's models onto the shared metadata.

Only composition code (migrations, `app.main`, tests) imports this module.
"""

import importlib

from sqlalchemy import MetaData

from app.core.db import Base

MODEL_MODULES = (
    "app.models",
    "logistics.models",
    "lockers.models",
    "notifications.models",
)


def load_all_models() -> MetaData:
    """Import every package's models (those that exist yet) and return the full metadata."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return Base.metadata
