"""`pickup notifications`: the outbox a newcomer reads, template previews."""

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import app as pickup
from lockers import codes
from notifications import delivery, dispatch
from notifications.providers import get_provider
from tests.factories import Factory
from tests.notifications.conftest import World

runner = CliRunner()


def test_the_outbox_shows_messages_masked_and_reveals_codes_on_request(
    committed: sessionmaker[Session],
) -> None:
    with committed() as db_session:
        world = World(db_session, Factory(db_session))
        parcel = world.parcel()
        world.ready_event(parcel)
        db_session.commit()
        (message_id,) = dispatch.consume(db_session=db_session).to_send
        db_session.commit()
        code = codes.pickup_code_for_parcel(db_session=db_session, parcel_id=parcel.id)
    assert code is not None
    outcome = delivery.deliver(
        session_factory=committed, message_id=message_id, provider=get_provider()
    )
    assert outcome.action == "sent"

    masked = runner.invoke(pickup, ["notifications", "outbox"], env={"COLUMNS": "200"})
    assert masked.exit_code == 0, masked.output
    assert "parcel_ready" in masked.output and "sent" in masked.output
    assert "Code ******." in masked.output and code not in masked.output

    revealed = runner.invoke(
        pickup, ["notifications", "outbox", "--reveal"], env={"COLUMNS": "200"}
    )
    assert f"Code {code}." in revealed.output


def test_preview_shows_the_text_and_its_segments() -> None:
    result = runner.invoke(
        pickup, ["notifications", "preview", "parcel_ready", "--lang", "zh"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "取件码482913" in result.output
    assert "ucs2" in result.output and "segment(s)" in result.output
    unknown = runner.invoke(pickup, ["notifications", "preview", "nope"])
    assert unknown.exit_code == 2
