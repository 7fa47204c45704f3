"""Fixtures for the auth tests: clients with their own address, the SMS outbox, and limits."""

import itertools
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.core.settings import Settings, get_settings
from app.core.sms import ConsoleOutbox, get_sms_sender

_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other test uses (rate limits are counted per address)."""
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture
def client_at(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    """Build an unauthenticated client calling from the given address."""
    clients: list[TestClient] = []

    def build(address: str) -> TestClient:
        client = TestClient(app, client=(address, 50000))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def anon(client_at: Callable[[str], TestClient]) -> TestClient:
    """An unauthenticated client with an address of its own."""
    return client_at(fresh_address())


@pytest.fixture
def outbox() -> ConsoleOutbox:
    """The console outbox login codes are sent to."""
    sender = get_sms_sender()
    assert isinstance(sender, ConsoleOutbox)
    return sender


@pytest.fixture
def settings() -> Settings:
    """The process settings (change them with monkeypatch.setattr, which restores them)."""
    return get_settings()


_phones = itertools.count(1)


def fresh_phone() -> str:
    """A valid mobile number in E.164 that no resident has (factories use +86138...)."""
    return f"+86139{next(_phones):08d}"


CODE_IN_SMS = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def code_for(outbox: ConsoleOutbox) -> Callable[[str], str]:
    """The 6-digit code in the newest SMS to a phone."""

    def read(phone: str) -> str:
        message = outbox.last_to(phone)
        assert message is not None, f"no SMS to {phone}"
        match = CODE_IN_SMS.search(message.body)
        assert match is not None, message.body
        return match.group(1)

    return read
