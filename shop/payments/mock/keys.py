"""The bundled mock's keys. They are published (README, docs/payments.md), so they protect
nothing: `manage.py check --deploy` reports an error when any of them is configured."""

MOCK_SECRET_KEY = "sk_test_shanhai_mock"
MOCK_WEBHOOK_SECRET = "whsec_shanhai_mock"
# Public by design (a browser holds it), but it points a storefront at the mock.
MOCK_PUBLISHABLE_KEY = "pk_test_shanhai_mock"
DOCUMENTED_KEYS = frozenset({MOCK_SECRET_KEY, MOCK_WEBHOOK_SECRET, MOCK_PUBLISHABLE_KEY})
