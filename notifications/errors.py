"""The refusals the notifications package shares with its callers: a named case per situation."""

from app.core.errors import InvalidInput, NotFound


class MessageNotFound(NotFound):
    """No outbox message with this id (in the operator's city)."""

    case = "message_not_found"


class TemplateUnknown(InvalidInput):
    """No SMS template has this name."""

    case = "template_unknown"
