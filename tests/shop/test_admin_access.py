"""Operators browse accounts and the audit trail in the admin without model permissions, and
cannot change them there (the API's services do that)."""

import pytest

from shop.accounts.models import Role
from tests.factories import UserFactory


@pytest.fixture
def operator_client(client, db):
    client.force_login(UserFactory(role=Role.OPERATOR, is_staff=True))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/user/",
        "/admin/core/auditevent/",
        "/admin/django_tasks_database/dbtaskresult/",
        "/admin/core/jobschedule/",
        "/admin/core/workerheartbeat/",
        "/admin/notifications/webhookendpoint/",
        "/admin/notifications/outboundevent/",
        "/admin/notifications/webhookdelivery/",
    ],
)
def test_operators_can_list(operator_client, path):
    assert operator_client.get(path).status_code == 200


def test_operators_cannot_add_or_edit_users_in_the_admin(operator_client):
    assert operator_client.get("/admin/accounts/user/add/").status_code == 403
    target = UserFactory(role=Role.AGENCY)
    response = operator_client.post(
        f"/admin/accounts/user/{target.pk}/change/", {"email": target.email, "role": "OPERATOR"}
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == Role.AGENCY


def test_other_staff_without_permissions_see_nothing(client, db):
    client.force_login(UserFactory(role=Role.AUDITOR, is_staff=True))
    assert client.get("/admin/accounts/user/").status_code == 403


def test_operators_see_a_job_and_cannot_change_it(operator_client, settings):
    from django_tasks_db.models import DBTaskResult

    from search.jobs import search_sync

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    queued = search_sync.enqueue()
    listing = operator_client.get("/admin/django_tasks_database/dbtaskresult/")
    assert listing.status_code == 200
    assert "search_sync" in listing.content.decode()
    page = operator_client.get(f"/admin/django_tasks_database/dbtaskresult/{queued.id}/change/")
    assert page.status_code == 200
    assert "search_sync" in page.content.decode()
    response = operator_client.post(
        f"/admin/django_tasks_database/dbtaskresult/{queued.id}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert DBTaskResult.objects.filter(pk=queued.id).exists()
