"""One JSON line per request (shanhai.requests), the JSON formatter, and that secrets and
personal data never reach any log line."""

import json
import logging

import pytest
from django.test import Client

from shop.accounts.models import Role
from shop.accounts.tokens import create_access_token
from shop.core.logging import REDACTED, JsonFormatter
from shop.core.middleware import RequestIdLogFilter
from tests.factories import AgencyFactory, UserFactory
from tests.factories.accounts import PASSWORD
from tests.procurement.flows import buyer, stocked_variant
from tests.procurement.test_checkout import vid
from tests.shop.accounts.sign_in import TOKEN_CREATE
from tests.shop.test_settings import PRODUCTION_ENV, run_manage


class JsonLines(logging.Handler):
    """Every record of every logger, rendered as the production handler renders it."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdLogFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def requests(self) -> list[dict]:
        return [
            entry for entry in map(json.loads, self.lines) if entry["logger"] == "shanhai.requests"
        ]


@pytest.fixture
def log_lines():
    handler = JsonLines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # everything any logger says, debug included
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def post(query: str, variables=None, **headers):
    return Client().post(
        "/graphql/",
        json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )


def test_each_request_logs_one_line_with_its_id_operation_role_and_queries(log_lines, db):
    user = buyer()
    response = post(
        "query WhoAmI { me { email } }",
        HTTP_AUTHORIZATION=f"Bearer {create_access_token(user)}",
    )
    (line,) = log_lines.requests()
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32
    assert line["method"] == "POST"
    assert line["path"] == "/graphql/"
    assert line["status"] == 200
    assert line["operation_name"] == "WhoAmI"
    assert line["operation_type"] == "query"
    assert line["role"] == "AGENCY"
    assert line["db_queries"] == 1
    assert line["outcome"] == "ok"
    assert isinstance(line["duration_ms"], float | int)


def test_an_anonymous_request_logs_its_role_as_anonymous(log_lines, db):
    post("{ me { email } }")
    (line,) = log_lines.requests()
    assert line["role"] == "anonymous"
    assert line["operation_name"] is None


def test_a_domain_error_is_the_outcome_of_a_mutation(log_lines, gql, db):
    user = buyer()
    variant = stocked_variant(stock=1)
    from tests.procurement.test_checkout import CHECKOUT

    gql(
        CHECKOUT,
        {"lines": [{"variantId": vid(variant), "quantity": 9}], "key": "k-log-0001"},
        user=user,
    )
    (line,) = log_lines.requests()
    assert line["operation_type"] == "mutation"
    assert line["outcome"] == ["INSUFFICIENT_STOCK"]


def test_top_level_errors_and_refusals_are_the_outcome(log_lines, db):
    post("{ nope }")
    post("{ me { email } }", HTTP_AUTHORIZATION="Bearer not-a-token")
    validation, unauthenticated = log_lines.requests()
    assert validation["outcome"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert unauthenticated["outcome"] == ["UNAUTHENTICATED"]
    assert unauthenticated["status"] == 401


def test_a_trusted_proxy_request_id_is_kept_and_echoed(log_lines, settings, db):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = post("{ me { email } }", HTTP_X_REQUEST_ID="lb-7f3a", REMOTE_ADDR="10.0.0.2")
    assert response["X-Request-ID"] == "lb-7f3a"
    assert log_lines.requests()[0]["request_id"] == "lb-7f3a"


def test_a_client_chosen_request_id_is_replaced(log_lines, settings, db):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    response = post("{ me { email } }", HTTP_X_REQUEST_ID="forged-id", REMOTE_ADDR="203.0.113.4")
    assert response["X-Request-ID"] != "forged-id"
    assert log_lines.requests()[0]["request_id"] == response["X-Request-ID"]


def test_probes_and_scrapes_are_not_logged(log_lines, db):
    Client().get("/healthz")
    Client().get("/readyz")
    assert log_lines.requests() == []


def test_no_log_line_carries_passwords_phones_emails_or_names(log_lines, gql, db):
    """A sign-in (right and wrong password), a checkout with a recipient and phone number, and
    a GET whose query string holds an e-mail: nothing of them reaches any logger."""
    user = UserFactory(
        role=Role.AGENCY, agency=AgencyFactory(), email="wang.laoshi@school.example.cn"
    )
    variant = stocked_variant(stock=10)
    log_lines.lines.clear()  # what the test's own set-up logged (factory debug lines) aside
    gql(TOKEN_CREATE, {"email": user.email, "password": PASSWORD})
    gql(TOKEN_CREATE, {"email": user.email, "password": "Wrong-Secret-Pw-42"})
    checkout = """mutation($lines: [CheckoutLineInput!]!) { checkoutCreate(lines: $lines,
      idempotencyKey: "k-log-secret-1", shipWithinDays: 7,
      shippingAddress: {recipient: $recipient, phone: $phone, address: "银川市金凤区宁安大街88号"}) {
      orders { number } errors { code } } }"""
    checkout = checkout.replace("$recipient", '"马德福家"').replace("$phone", '"13912345678"')
    gql(checkout, {"lines": [{"variantId": vid(variant), "quantity": 2}]}, user=user)
    Client().get(
        "/graphql/",
        {"query": "query($e: String!) { me { email } }", "variables": '{"e": "lookup@x.cn"}'},
    )
    text = "\n".join(log_lines.lines)
    assert len(log_lines.requests()) == 4
    for secret in (
        PASSWORD,
        "Wrong-Secret-Pw-42",
        "13912345678",
        "马德福",
        "wang.laoshi",
        "lookup@x.cn",
        "宁安大街",
    ):
        assert secret not in text, secret


def test_the_json_formatter_renders_extra_fields_of_job_lines():
    handler = JsonLines()
    logger = logging.getLogger("shanhai.jobs")
    logger.addHandler(handler)
    try:
        logger.warning(
            "job finished",
            extra={
                "job_id": 42,
                "job_name": "search_sync",
                "attempt": 2,
                "duration_ms": 18.5,
                "outcome": "error",
            },
        )
    finally:
        logger.removeHandler(handler)
    (line,) = map(json.loads, handler.lines)
    assert line["logger"] == "shanhai.jobs"
    assert line["level"] == "WARNING"
    assert line["message"] == "job finished"
    assert (line["job_id"], line["job_name"], line["attempt"]) == (42, "search_sync", 2)
    assert (line["duration_ms"], line["outcome"]) == (18.5, "error")
    assert line["request_id"] == "-"
    assert line["time"].endswith("+00:00")


def test_the_json_formatter_redacts_fields_named_after_secrets():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.password = "hunter2"
    record.context = {"phone": "13912345678", "attempt": 1, "api_token": "t"}
    line = json.loads(JsonFormatter().format(record))
    assert line["password"] == REDACTED
    assert line["context"] == {"phone": REDACTED, "attempt": 1, "api_token": REDACTED}


def test_the_json_formatter_includes_the_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, True)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in line["exception"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({**PRODUCTION_ENV}, "json"),
        ({"DEBUG": "true"}, "text"),
        ({**PRODUCTION_ENV, "LOG_FORMAT": "text"}, "text"),
    ],
)
def test_log_format_is_json_in_production_and_text_in_debug(env, expected):
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.LOG_FORMAT)", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_production_writes_json_lines_to_stderr():
    result = run_manage(
        "shell",
        "-c",
        "import logging; logging.getLogger('shanhai.jobs').info('ran', extra={'job_id': 7})",
        env=PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stderr.splitlines() if text.startswith("{")]
    assert (line["message"], line["job_id"], line["logger"]) == ("ran", 7, "shanhai.jobs")


def test_an_unknown_log_format_is_refused():
    result = run_manage("check", env={**PRODUCTION_ENV, "LOG_FORMAT": "xml"})
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr
