"""Supplier admission and exit through the GraphQL API (docs/design.md §3, Suppliers)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from graphql_relay import to_global_id

from catalog.models import BlacklistEntry, Supplier, SupplierStatus, SupplierTransition
from shop.accounts.models import Role
from shop.core.models import AuditEvent
from tests.factories import SupplierFactory, UserFactory
from tests.factories.catalog import county, credit_code, fujian_county, in_days

APPLY = """
mutation($input: SupplierApplyInput!) {
  supplierApply(input: $input) {
    supplier { name creditCode status county { name } qualifications { kind number } }
    errors { field code message }
  }
}"""
RECOMMEND = """
mutation($id: ID!, $decision: SupplierRecommendDecision!, $note: String) {
  supplierRecommend(id: $id, decision: $decision, note: $note) {
    supplier { status } errors { field code message }
  }
}"""
REVIEW = """
mutation($id: ID!, $decision: SupplierReviewDecision!, $note: String) {
  supplierReview(id: $id, decision: $decision, note: $note) {
    supplier { status } errors { field code message }
  }
}"""
SUSPEND = """mutation($id: ID!, $reason: String!) { supplierSuspend(id: $id, reason: $reason) {
    supplier { status } errors { field code message } } }"""
REINSTATE = """mutation($id: ID!) { supplierReinstate(id: $id) {
    supplier { status } errors { field code message } } }"""
EXIT = """mutation($id: ID!, $reason: String!, $blacklist: Boolean) {
  supplierExit(id: $id, reason: $reason, blacklist: $blacklist) {
    supplier { status } errors { field code message } } }"""


def application(code: str | None = None, **overrides) -> dict:
    data = {
        "name": "中宁县杞乡红枸杞专业合作社",
        "creditCode": credit_code(90001) if code is None else code,
        "kind": "COOPERATIVE",
        "countyId": to_global_id("County", county("640521").pk),
        "legalRepresentative": "马建国",
        "contactName": "李梅",
        "contactPhone": "13995551234",
        "qualifications": [
            {"kind": "BUSINESS_LICENCE", "number": "BL-001", "expiresOn": str(in_days(700))},
            {
                "kind": "LEGAL_REP_ID",
                "number": "640521198001011234",
                "expiresOn": str(in_days(3000)),
            },
            {"kind": "FOOD_LICENCE", "number": "SC11664052100001", "expiresOn": str(in_days(500))},
        ],
    }
    data.update(overrides)
    return data


def gid(supplier: Supplier) -> str:
    return to_global_id("Supplier", supplier.pk)


@pytest.fixture
def consumer(db):
    return UserFactory(role=Role.CONSUMER)


@pytest.fixture
def reviewer(db):
    return UserFactory(role=Role.COUNTY_REVIEWER, county=county("640521"))


def test_consumer_applies_and_becomes_the_suppliers_staff(gql, consumer):
    payload = gql(APPLY, {"input": application()}, user=consumer)["data"]["supplierApply"]
    assert payload["errors"] == []
    assert payload["supplier"]["status"] == "APPLIED"
    assert payload["supplier"]["county"] == {"name": "中宁县"}
    assert sorted(q["kind"] for q in payload["supplier"]["qualifications"]) == [
        "BUSINESS_LICENCE",
        "FOOD_LICENCE",
        "LEGAL_REP_ID",
    ]
    consumer.refresh_from_db()
    supplier = Supplier.objects.get()
    assert (consumer.role, consumer.supplier_id) == (Role.SUPPLIER, supplier.pk)
    transition = SupplierTransition.objects.get()
    assert (transition.from_status, transition.to_status, transition.actor_id) == (
        "",
        "APPLIED",
        consumer.pk,
    )
    assert AuditEvent.objects.filter(action="supplier.apply", object_id=str(supplier.pk)).exists()


@pytest.mark.parametrize(
    "bad_code",
    [
        "91640521MA7600001X",  # wrong check character
        "91640521MA760000",  # too short
        "9164052IMA7600001L",  # letter I is not allowed
        "",
    ],
)
def test_invalid_credit_code_is_refused_and_nothing_is_created(gql, consumer, bad_code):
    payload = gql(APPLY, {"input": application(bad_code)}, user=consumer)["data"]["supplierApply"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("creditCode", "INVALID_CREDIT_CODE")
    ]
    assert not Supplier.objects.exists()
    consumer.refresh_from_db()
    assert consumer.role == Role.CONSUMER


def test_county_outside_ningxia_is_refused(gql, consumer):
    fuzhou = fujian_county()
    data = application(countyId=to_global_id("County", fuzhou.pk))
    payload = gql(APPLY, {"input": data}, user=consumer)["data"]["supplierApply"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        ("countyId", "COUNTY_NOT_IN_NINGXIA")
    ]
    assert not Supplier.objects.exists()


def test_missing_and_expired_qualifications_are_refused(gql, consumer):
    data = application()
    data["qualifications"] = [
        {"kind": "BUSINESS_LICENCE", "number": "BL-1", "expiresOn": str(in_days(-1))},
        {"kind": "LEGAL_REP_ID", "number": "ID-1", "expiresOn": str(in_days(100))},
    ]
    payload = gql(APPLY, {"input": data}, user=consumer)["data"]["supplierApply"]
    assert sorted(e["code"] for e in payload["errors"]) == [
        "MISSING_QUALIFICATION",
        "QUALIFICATION_EXPIRED",
    ]
    assert not Supplier.objects.exists()


def test_a_second_applicant_cannot_take_an_existing_credit_code(gql, consumer):
    existing = SupplierFactory()
    payload = gql(APPLY, {"input": application(existing.credit_code)}, user=consumer)
    assert payload["data"]["supplierApply"]["errors"][0]["code"] == "CREDIT_CODE_TAKEN"
    assert Supplier.objects.count() == 1


def test_county_reviewer_recommends_an_applicant_of_their_county(gql, reviewer):
    applicant = SupplierFactory(status=SupplierStatus.APPLIED)
    payload = gql(RECOMMEND, {"id": gid(applicant), "decision": "RECOMMEND"}, user=reviewer)
    assert payload["data"]["supplierRecommend"] == {
        "supplier": {"status": "RECOMMENDED"},
        "errors": [],
    }


def test_county_reviewer_of_another_county_cannot_touch_the_applicant(gql):
    yanchi_reviewer = UserFactory(role=Role.COUNTY_REVIEWER, county=county("640323"))
    applicant = SupplierFactory(status=SupplierStatus.APPLIED)
    payload = gql(RECOMMEND, {"id": gid(applicant), "decision": "RECOMMEND"}, user=yanchi_reviewer)
    assert payload["data"]["supplierRecommend"]["errors"][0]["code"] == "NOT_FOUND"
    applicant.refresh_from_db()
    assert applicant.status == SupplierStatus.APPLIED
    assert not SupplierTransition.objects.exists()


def test_county_decline_rejects_and_needs_a_note(gql, reviewer):
    applicant = SupplierFactory(status=SupplierStatus.APPLIED)
    no_note = gql(RECOMMEND, {"id": gid(applicant), "decision": "DECLINE"}, user=reviewer)
    assert no_note["data"]["supplierRecommend"]["errors"] == [
        {"field": "note", "code": "REQUIRED", "message": "Give a reason."}
    ]
    declined = gql(
        RECOMMEND,
        {"id": gid(applicant), "decision": "DECLINE", "note": "无联农带农机制"},
        user=reviewer,
    )
    assert declined["data"]["supplierRecommend"]["supplier"] == {"status": "REJECTED"}
    assert SupplierTransition.objects.get().note == "无联农带农机制"


def test_operator_cannot_admit_before_the_county_step(gql, operator):
    applicant = SupplierFactory(status=SupplierStatus.APPLIED)
    payload = gql(REVIEW, {"id": gid(applicant), "decision": "ADMIT"}, user=operator)
    assert payload["data"]["supplierReview"]["errors"][0]["code"] == "COUNTY_STEP_REQUIRED"
    applicant.refresh_from_db()
    assert applicant.status == SupplierStatus.APPLIED


def test_without_the_county_step_the_operator_admits_directly(gql, operator, settings):
    settings.SUPPLIER_COUNTY_STEP = False
    applicant = SupplierFactory(status=SupplierStatus.APPLIED)
    payload = gql(REVIEW, {"id": gid(applicant), "decision": "ADMIT"}, user=operator)
    assert payload["data"]["supplierReview"]["supplier"] == {"status": "ADMITTED"}


# Every status × every action: the outcome is the new status, or INVALID_TRANSITION-like refusal.
ACTIONS = {
    "recommend": (RECOMMEND, {"decision": "RECOMMEND"}, "reviewer"),
    "decline": (RECOMMEND, {"decision": "DECLINE", "note": "资料不全"}, "reviewer"),
    "admit": (REVIEW, {"decision": "ADMIT"}, "operator"),
    "reject": (REVIEW, {"decision": "REJECT", "note": "资质不符"}, "operator"),
    "suspend": (SUSPEND, {"reason": "抽检不合格"}, "operator"),
    "reinstate": (REINSTATE, {}, "operator"),
    "exit": (EXIT, {"reason": "严重质量问题"}, "operator"),
}
S = SupplierStatus
ALLOWED = {
    (S.APPLIED, "recommend"): S.RECOMMENDED,
    (S.APPLIED, "decline"): S.REJECTED,
    (S.RECOMMENDED, "admit"): S.ADMITTED,
    (S.RECOMMENDED, "reject"): S.REJECTED,
    (S.ADMITTED, "suspend"): S.SUSPENDED,
    (S.ADMITTED, "exit"): S.EXITED,
    (S.SUSPENDED, "reinstate"): S.ADMITTED,
    (S.SUSPENDED, "exit"): S.EXITED,
}


@pytest.mark.parametrize("status", list(SupplierStatus))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_supplier_transition_table(gql, operator, reviewer, status, action):
    supplier = SupplierFactory(status=status)
    query, variables, actor = ACTIONS[action]
    user = operator if actor == "operator" else reviewer
    payload = next(iter(gql(query, {"id": gid(supplier), **variables}, user=user)["data"].values()))
    supplier.refresh_from_db()
    expected = ALLOWED.get((status, action))
    if expected:
        assert payload["errors"] == []
        assert supplier.status == expected
        assert SupplierTransition.objects.get().to_status == expected
    else:
        assert payload["errors"][0]["code"] in {"INVALID_TRANSITION", "COUNTY_STEP_REQUIRED"}
        assert supplier.status == status
        assert not SupplierTransition.objects.exists()


def test_rejected_supplier_reapplies(gql):
    supplier = SupplierFactory(status=SupplierStatus.REJECTED)
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    payload = gql(APPLY, {"input": application(supplier.credit_code)}, user=staff)
    assert payload["data"]["supplierApply"]["errors"] == []
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.APPLIED
    assert supplier.name == "中宁县杞乡红枸杞专业合作社"


def test_exited_supplier_must_wait_out_the_cooling_off_period(gql, operator):
    supplier = SupplierFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    gql(EXIT, {"id": gid(supplier), "reason": "抽检不合格"}, user=operator)
    early = gql(APPLY, {"input": application(supplier.credit_code)}, user=staff)
    assert early["data"]["supplierApply"]["errors"][0]["code"] == "COOLING_OFF"
    with time_machine.travel(timezone.now() + timedelta(days=366)):
        # Qualifications in the application must still be valid a year later.
        later = gql(APPLY, {"input": application(supplier.credit_code)}, user=staff)
    assert later["data"]["supplierApply"]["errors"] == []
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.APPLIED


def test_blacklisted_credit_code_can_never_apply_again(gql, operator, consumer):
    supplier = SupplierFactory()
    staff = UserFactory(role=Role.SUPPLIER, supplier=supplier)
    payload = gql(
        EXIT, {"id": gid(supplier), "reason": "以次充好", "blacklist": True}, user=operator
    )
    assert payload["data"]["supplierExit"]["supplier"] == {"status": "EXITED"}
    assert BlacklistEntry.objects.get().credit_code == supplier.credit_code
    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        for user in (staff, consumer):
            refused = gql(APPLY, {"input": application(supplier.credit_code)}, user=user)
            assert refused["data"]["supplierApply"]["errors"][0]["code"] == "BLACKLISTED"
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.EXITED


def test_reinstate_needs_current_qualifications(gql, operator):
    supplier = SupplierFactory(status=SupplierStatus.SUSPENDED)
    supplier.qualifications.filter(kind="FOOD_LICENCE").update(expires_on=in_days(-3))
    payload = gql(REINSTATE, {"id": gid(supplier)}, user=operator)
    assert payload["data"]["supplierReinstate"]["errors"][0]["code"] == "QUALIFICATION_EXPIRED"
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.SUSPENDED


def test_suspend_and_exit_need_a_reason(gql, operator):
    supplier = SupplierFactory()
    payload = gql(SUSPEND, {"id": gid(supplier), "reason": "  "}, user=operator)
    assert payload["data"]["supplierSuspend"]["errors"][0] == {
        "field": "reason",
        "code": "REQUIRED",
        "message": "Give a reason.",
    }
    supplier.refresh_from_db()
    assert supplier.status == SupplierStatus.ADMITTED


def test_every_transition_is_recorded_with_actor_and_reason(gql, operator):
    supplier = SupplierFactory()
    gql(SUSPEND, {"id": gid(supplier), "reason": "抽检不合格"}, user=operator)
    gql(REINSTATE, {"id": gid(supplier)}, user=operator)
    history = """query($id: ID!) { supplier(id: $id) { transitions {
        fromStatus toStatus actorEmail reason } } }"""
    transitions = gql(history, {"id": gid(supplier)}, user=operator)["data"]["supplier"][
        "transitions"
    ]
    assert transitions == [
        {
            "fromStatus": "ADMITTED",
            "toStatus": "SUSPENDED",
            "actorEmail": operator.email,
            "reason": "抽检不合格",
        },
        {
            "fromStatus": "SUSPENDED",
            "toStatus": "ADMITTED",
            "actorEmail": operator.email,
            "reason": "",
        },
    ]
    assert list(
        AuditEvent.objects.filter(object_id=str(supplier.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["supplier.suspend", "supplier.reinstate"]
