"""Signing in through each door over HTTP, from a chosen client address."""

from django.test import Client

from tests.factories.accounts import PASSWORD

TOKEN_CREATE = """
mutation($email: String!, $password: String!) {
  tokenCreate(email: $email, password: $password) {
    token refreshToken user { email role } errors { field code message }
  }
}"""


def graphql_sign_in(gql, email, password=PASSWORD, **extra) -> dict:
    """tokenCreate's payload; `extra` are WSGI variables such as REMOTE_ADDR."""
    response = gql(TOKEN_CREATE, {"email": email, "password": password}, **extra)
    return response["data"]["tokenCreate"]


def code(payload: dict) -> str | None:
    """The first error code of a tokenCreate payload, None when it signed in."""
    return payload["errors"][0]["code"] if payload["errors"] else None


def form_sign_in(path: str, email: str, password: str = PASSWORD, **extra) -> tuple[Client, str]:
    """Posts the sign-in form of /admin/login/ or /dashboard/login/ with a fresh client:
    the client (signed in or not) and the outcome: 'signed in', 'throttled' or 'refused'."""
    client = Client()
    response = client.post(path, {"username": email, "password": password}, **extra)
    if response.status_code == 302:
        return client, "signed in"
    body = response.content.decode()
    assert response.status_code == 200, body
    return client, "throttled" if "Too many failed sign-in attempts" in body else "refused"
