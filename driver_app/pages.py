"""The drivers' app templates and messages, over the shared layout of `app.web`."""

from pathlib import Path

from app.web.templating import PageTemplates

pages = PageTemplates(Path(__file__).parent)
