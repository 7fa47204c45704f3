"""The pages' shared kit: staff sign-in by cookie, refusals, cross-site posts, language, docs."""

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.staff.models import StaffRole
from app.web.i18n import parse_language
from app.web.session import SESSION_COOKIE, safe_next
from app.web.templating import mask_phone, money
from tests.factories import STAFF_PASSWORD, Factory

VENDOR = Path(__file__).parents[2] / "app" / "web" / "static" / "vendor"


def test_staff_sign_in_sets_an_httponly_cookie_and_goes_home(page_client_for, make: Factory):
    operator = make.staff(StaffRole.OPERATOR)
    client = page_client_for(None)
    page = client.get("/staff/login")
    assert page.status_code == 200 and 'name="password"' in page.text
    answer = client.post(
        "/staff/login", data={"username": operator.username, "password": STAFF_PASSWORD}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ops"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert STAFF_PASSWORD not in cookie


def test_staff_sign_in_follows_next_but_never_off_site(page_client_for, make: Factory):
    driver = make.staff(StaffRole.DRIVER)
    client = page_client_for(None)
    form = {"username": driver.username, "password": STAFF_PASSWORD}
    assert (
        client.post("/staff/login", data={**form, "next": "/driver/x"}).headers["location"]
        == "/driver/x"
    )
    for hostile in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        answer = client.post("/staff/login", data={**form, "next": hostile})
        assert answer.headers["location"] == "/driver"


def test_wrong_password_shows_the_form_again_with_the_reason(page_client_for, make: Factory):
    operator = make.staff(StaffRole.OPERATOR)
    answer = page_client_for(None).post(
        "/staff/login", data={"username": operator.username, "password": "wrong-password-1"}
    )
    assert answer.status_code == 401
    assert "wrong username or password" in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_form_post_from_another_site_is_refused(make: Factory, app):
    operator = make.staff(StaffRole.OPERATOR)
    with TestClient(app, follow_redirects=False) as client:
        form = {"username": operator.username, "password": STAFF_PASSWORD}
        cross = client.post("/staff/login", data=form, headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403 and "origin" in cross.text
        fetch = client.post("/staff/login", data=form, headers={"Sec-Fetch-Site": "cross-site"})
        assert fetch.status_code == 403
        same = client.post("/staff/login", data=form, headers={"Sec-Fetch-Site": "same-origin"})
        assert same.status_code == 303


def test_language_switch_remembers_the_choice(page_client_for):
    client = page_client_for(None)
    answer = client.post("/lang", data={"lang": "zh", "next": "/staff/login"})
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
    page = client.get("/staff/login")
    assert 'lang="zh-Hans"' in page.text and "员工登录" in page.text
    back = client.post("/lang", data={"lang": "en", "next": "https://evil.example"})
    assert back.headers["location"] == "/"


def test_browser_language_chooses_chinese(page_client_for):
    page = page_client_for(None).get("/staff/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "员工登录" in page.text


def test_api_docs_load_nothing_from_a_cdn(anon_client):
    page = anon_client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert anon_client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert anon_client.get("/redoc").status_code == 404


def test_vendored_files_are_the_pinned_ones():
    table = (VENDOR / "VENDORED.md").read_text()
    pinned = re.findall(r"\| `([^`]+)` \|[^|]+\|[^|]+\| `([0-9a-f]{64})` \|", table)
    assert len(pinned) == 4
    for name, digest in pinned:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_no_template_loads_a_script_or_style_from_another_host():
    root = Path(__file__).parents[2]
    offenders = []
    for template in root.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        text = template.read_text()
        if re.search(r"""(src|href)=["'](https?:)?//""", text):
            offenders.append(str(template))
    assert offenders == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/ops/x?y=1", "/ops/x?y=1"), ("//evil", "/d"), ("http://e/", "/d"), ("", "/d"), (None, "/d")],
)
def test_safe_next(value, expected):
    assert safe_next(value, "/d") == expected


def test_formatting_helpers():
    assert money(890) == "¥8.90" and money(-1234567) == "-¥12,345.67"
    assert mask_phone("+8613800138000") == "+86138****8000"
    assert parse_language("zh-Hans-CN") is not None and parse_language("fr") is None
