"""The drivers' app tests reuse the logistics tests' small city (a window past its cut-off)."""

from tests.logistics.conftest import world  # noqa: F401
