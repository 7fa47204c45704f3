"""The shared kit in real Chromium: sign in as the demo operator, switch language, sign out."""

from pathlib import Path

import pytest

from tests.browser import LAPTOP, DemoServer, shoot


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    server = DemoServer(tmp_path_factory.mktemp("demo-kit"), play=False)
    yield server
    server.stop()


def test_staff_sign_in_in_chromium(chromium, served: DemoServer, tmp_path: Path):
    context = chromium.new_context(**LAPTOP)
    page = context.new_page()
    page.goto(f"{served.url}/staff/login?next=/docs")
    page.get_by_role("button", name="中文").click()
    assert page.locator("h1").inner_text() == "员工登录"
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "wrong-password")
    page.get_by_role("button", name="登录").click()
    assert "用户名或密码错误" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=password]", "demo-operator")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{served.url}/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["pickup_session"]["httpOnly"] is True
    shoot(page, "api-docs", tmp_path)
    context.close()
