"""`pickup notifications`: read the SMS outbox, count it, preview templates.

(`tick` and `worker` join this group from `app.clockwork.cli`; the local Twilio is `pickup sim
twilio`.)
"""

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from app.core.db import get_sessionmaker
from app.core.settings import get_settings
from notifications import content, render, service
from notifications.models import MessageStatus

console = Console()
app = typer.Typer(
    help="SMS notifications: the message outbox, its worker and templates.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

STATUS_STYLE = {
    "queued": "yellow",
    "sending": "yellow",
    "sent": "cyan",
    "delivered": "green",
    "undelivered": "red",
    "failed": "red",
    "suppressed": "dim",
}

SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "login_code": {"code": "482913", "minutes": 5},
    "group_formed": {"order_id": 1042, "charged": "¥35.60"},
    "group_formed_refund": {"order_id": 1042, "charged": "¥35.60", "refunded": "¥3.00"},
    "group_failed": {"order_id": 1042, "refunded": "¥38.60"},
    "parcel_ready": {
        "order_id": 1042,
        "bank_name": "Jade Garden Lockers",
        "address": "88 Huaihai Rd, gate 2",
        "compartment": "B07",
        "code": "482913",
        "deadline": "Fri 14 Mar 18:00",
    },
    "pickup_reminder": {
        "order_id": 1042,
        "bank_name": "Jade Garden Lockers",
        "compartment": "B07",
        "code": "482913",
        "deadline": "Fri 14 Mar 18:00",
    },
    "parcel_expired": {"order_id": 1042, "bank_name": "Jade Garden Lockers"},
    "parcel_overflow": {
        "order_id": 1042,
        "from_bank": "Jade Garden Lockers",
        "to_bank": "Maple Court Lockers",
        "address": "12 Wulumuqi Rd",
    },
    "cold_chain_flag": {"order_id": 1042, "minutes": 25},
    "parcel_undelivered": {"order_id": 1042},
    "parcel_not_routed": {"order_id": 1042},
    "undelivered_refund": {"order_id": 1042, "refunded": "¥24.50"},
    "deadline_extended": {
        "order_id": 1042,
        "bank_name": "Jade Garden Lockers",
        "deadline": "Sat 15 Mar 12:00",
    },
    "nudge_minimum": {"gap": 3, "product": "Free-range eggs", "price": "¥8.90", "cutoff": "14:00"},
    "nudge_tier": {"gap": 3, "product": "Free-range eggs", "price": "¥8.90", "cutoff": "14:00"},
    "help_reply": {},
    "stop_reply": {},
    "start_reply": {},
}


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(help="How many messages, newest first")] = 20,
    phone: Annotated[str | None, typer.Option(help="Only messages to this E.164 number")] = None,
    status: Annotated[MessageStatus | None, typer.Option(help="Only this status")] = None,
    reveal: Annotated[
        bool,
        typer.Option(help="Re-render bodies with their pickup codes (development only)"),
    ] = False,
) -> None:
    """Print the SMS outbox: what went (or will go) to whom, and what became of it.

    Stored bodies are redacted; with the console provider this is where a newcomer reads the
    messages a phone would have received. `--reveal` re-derives codes to show full texts.
    """
    if reveal and get_settings().environment == "production":
        console.print("[red]--reveal is refused in production: codes are never shown there.[/red]")
        raise typer.Exit(2)
    with get_sessionmaker()() as db_session:
        messages = service.get_all(
            db_session=db_session, statuses=[status] if status else None, limit=limit
        )
        if phone:
            messages = [m for m in messages if m.to_phone == phone]
        console.rule(f"SMS outbox ({get_settings().sms_provider}), oldest first")
        for message in reversed(messages):
            body = message.body_redacted or "[dim](not rendered yet)[/dim]"
            if reveal:
                try:
                    body = content.render_message(db_session=db_session, message=message).body
                except (content.Obsolete, KeyError) as exc:
                    body = f"{body}  [dim](cannot re-render: {exc})[/dim]"
            style = STATUS_STYLE.get(message.status.value, "")
            detail = message.status.value
            if message.error_code or message.suppression_reason:
                detail += f": {message.error_code or message.suppression_reason}"
            console.print(
                f"[bold]#{message.id}[/bold] to {message.to_phone}  {message.template}  "
                f"[{style}]{detail}[/{style}]  {message.created_at:%Y-%m-%d %H:%M:%S}Z  "
                f"[dim]{message.segments or '?'} segment(s)[/dim]"
            )
            console.print(f"    {body}", highlight=False)


@app.command()
def stats() -> None:
    """Count messages per status."""
    with get_sessionmaker()() as db_session:
        counts = service.count_by_status(db_session=db_session)
    table = Table(title="Messages per status")
    table.add_column("status")
    table.add_column("count", justify="right")
    for name, count in sorted(counts.items()):
        table.add_row(name, str(count))
    console.print(table)


@app.command()
def preview(
    template: Annotated[str, typer.Argument(help="Template name, e.g. parcel_ready")],
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
    param: Annotated[
        list[str] | None, typer.Option(help="Override a sample parameter: name=value")
    ] = None,
) -> None:
    """Render a template with sample values and show its SMS segments."""
    if template not in render.SPECS:
        console.print(f"[red]unknown template[/red]; one of: {', '.join(sorted(render.SPECS))}")
        raise typer.Exit(2)
    params = dict(SAMPLE_PARAMS.get(template, {}))
    for item in param or []:
        name, _, value = item.partition("=")
        params[name] = value
    rendered = render.render(template, lang, params)
    console.print(rendered.body)
    console.print(
        f"[dim]{rendered.encoding}, {len(rendered.body)} characters, "
        f"{rendered.segments} segment(s); stored as: {rendered.redacted}[/dim]"
    )
