"""The admin and the dashboard are served with a Content-Security-Policy that their own
markup satisfies: no inline script or handler anywhere, inline styles only in the <style>
element carrying the response's nonce."""

import re

import pytest

from catalog.models import Category
from shop.accounts.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.smoke

EXPECTED = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def nonce_of(response) -> str:
    policy = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert policy == EXPECTED.format(nonce=nonce)
    return nonce


def assert_satisfies_the_policy(html: str, nonce: str) -> None:
    """What the policy would block: inline scripts (a data block of JSON is not run),
    inline event handlers, style attributes, <style> without the nonce, other origins."""
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert all("src=" in tag or 'type="application/json"' in tag for tag in scripts), scripts
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"\sstyle\s*=", html)
    assert re.findall(r"<style\b[^>]*>", html) in ([], [f'<style nonce="{nonce}">'])
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_dashboard_sign_in_page_carries_the_policy_and_its_nonce(client, db):
    response = client.get("/dashboard/login/")
    nonce = nonce_of(response)
    html = response.content.decode()
    assert f'<style nonce="{nonce}">' in html
    assert_satisfies_the_policy(html, nonce)


def test_the_dashboard_with_its_charts_satisfies_the_policy(client, db):
    client.force_login(UserFactory(role=Role.AUDITOR))
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html
    assert_satisfies_the_policy(html, nonce_of(response))


def test_each_response_has_its_own_nonce(client, db):
    assert nonce_of(client.get("/dashboard/login/")) != nonce_of(client.get("/dashboard/login/"))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/login/",
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/{user}/change/",
        "/admin/catalog/category/{category}/change/",
        "/admin/catalog/supplier/?status__exact=PENDING",
    ],
)
def test_admin_pages_carry_the_policy_and_satisfy_it(client, operator, path):
    if path != "/admin/login/":
        client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True))
    category = Category.objects.first()
    response = client.get(path.format(user=operator.pk, category=category.pk))
    assert response.status_code == 200
    assert_satisfies_the_policy(response.content.decode(), nonce_of(response))


def test_the_api_is_left_without_a_page_policy(gql):
    assert "Content-Security-Policy" not in gql.raw("{ me { email } }")
