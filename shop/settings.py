"""Shanhai settings: everything comes from the environment; no variables at all gives the
embedded default (SQLite file in the project folder, database search, debug server)."""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from shop.payments.mock.keys import MOCK_PUBLISHABLE_KEY, MOCK_SECRET_KEY, MOCK_WEBHOOK_SECRET

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default="SECRET_KEY" not in os.environ)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "graphene_django",
    # background work: the Django Tasks API (django.tasks from Django 6.0) and its database
    # backend; shop/core/jobs.py adds retries, schedules and dead-worker recovery
    "django_tasks",
    "django_tasks_db",
    "shop.core",
    "shop.accounts",
    "shop.payments",
    "shop.payments.mock",
    "shop.notifications",
    "catalog",
    "procurement",
    "search",
]

MIDDLEWARE = [
    "shop.core.middleware.RequestIdMiddleware",
    # /healthz, /readyz, /metrics (answered before the host check and the HTTPS redirect),
    # and one log line plus metrics for every other request (docs/operations.md)
    "shop.core.observability.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "shop.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "shop.core.middleware.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Production keeps connections open between requests (a new PostgreSQL connection costs about
# 35 ms, more than a listing page) and checks one is alive before reusing it after a request,
# so a restarted database costs one reconnect instead of an error.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'shanhai.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0" if DEBUG else "60")),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
# A streaming read replica (docs/deploy.md): only storefront reads and auditors' reports go
# there, and only while it is reachable and within REPLICA_MAX_LAG_SECONDS (shop/core/db_router.py).
# In a test run it mirrors the test database: no test database is created on it.
if DATABASE_REPLICA_URL := os.environ.get("DATABASE_REPLICA_URL", ""):
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=DATABASES["default"]["CONN_HEALTH_CHECKS"],
    )
    # An unreachable replica must cost a request a moment, not the whole timeout.
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["shop.core.db_router.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "5"))
REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "5"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Serialise writers instead of failing with "database is locked" under the dev server.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Every password check goes through the throttled sign-in service.
AUTHENTICATION_BACKENDS = ["shop.accounts.backends.ThrottledModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# Timestamps are stored in UTC; business dates are taken in this zone (docs/design.md §3).
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = os.environ.get("MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Identity documents, qualification scans and inspection reports (shop.core.storage): outside
# MEDIA_ROOT and never served by URL, only through the access-checked download view.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("PRIVATE_MEDIA_ROOT", BASE_DIR / "private-media"))

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@shanhai.example")

# --- Security (production values make `manage.py check --deploy` silent) -----------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- GraphQL ------------------------------------------------------------------------------
GRAPHENE = {
    "SCHEMA": "shop.schema.schema",
    "SCHEMA_OUTPUT": "schema.graphql",
    "SCHEMA_INDENT": 2,
    "ATOMIC_MUTATIONS": True,
    # No debug middleware: its SQL tracking wraps every cursor (slow, and it breaks
    # executemany on SQLite); query counts are measured in tests and bench/ instead.
    "MIDDLEWARE": [],
}
GRAPHQL_MAX_DEPTH = int(os.environ.get("GRAPHQL_MAX_DEPTH", "12"))
GRAPHQL_MAX_ALIASES = int(os.environ.get("GRAPHQL_MAX_ALIASES", "50"))
GRAPHQL_MAX_COST = int(os.environ.get("GRAPHQL_MAX_COST", "50000"))
GRAPHQL_MAX_BODY_BYTES = int(os.environ.get("GRAPHQL_MAX_BODY_BYTES", str(256 * 1024)))
GRAPHQL_MAX_TOKENS = int(os.environ.get("GRAPHQL_MAX_TOKENS", "5000"))
# The schema is committed (schema.graphql); production need not hand attackers a map of it.
GRAPHQL_INTROSPECTION = env_bool("GRAPHQL_INTROSPECTION", default=DEBUG)
GRAPHQL_MAX_PAGE_SIZE = 100

# The storefront response cache (shop/core/graphql/response_cache.py): never stale, because its
# key holds the catalog version; the lifetime only frees memory of unreachable entries.
GRAPHQL_RESPONSE_CACHE = env_bool("GRAPHQL_RESPONSE_CACHE", True)
GRAPHQL_RESPONSE_CACHE_SECONDS = int(os.environ.get("GRAPHQL_RESPONSE_CACHE_SECONDS", "600"))
GRAPHQL_RESPONSE_CACHE_SCOPE = "catalog.storefront_cache.scope"
# Which queries may read from the read replica (DATABASE_REPLICA_URL), by caller and fields.
GRAPHQL_REPLICA_POLICY = "shop.replica_policy.may_read_from_replica"
# Local memory per process by default; a Redis URL shares one cache between app processes.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if (CACHE_URL := os.environ.get("CACHE_URL", ""))
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "shanhai",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    )
}
# Uploads (images, CSV imports) travel in multipart requests and have their own limits.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(12 * 2**20)))

# --- Ledger transparency log ---------------------------------------------------------------
# The Ed25519 key that signs ledger checkpoints: base64 of its 32 raw bytes or PEM (PKCS#8),
# in the variable or in a file. In DEBUG without either, a dev key is generated into the
# (gitignored) file below; with DEBUG off a missing key fails the deploy check.
LEDGER_SIGNING_KEY = os.environ.get("LEDGER_SIGNING_KEY", "")
LEDGER_SIGNING_KEY_FILE = os.environ.get(
    "LEDGER_SIGNING_KEY_FILE", str(BASE_DIR / ".ledger-signing-key") if DEBUG else ""
)

# --- Accounts -----------------------------------------------------------------------------
JWT_ACCESS_TOKEN_LIFETIME = timedelta(minutes=int(os.environ.get("JWT_ACCESS_TOKEN_MINUTES", "15")))
JWT_REFRESH_TOKEN_LIFETIME = timedelta(days=int(os.environ.get("JWT_REFRESH_TOKEN_DAYS", "7")))
# Sign-in throttling (shop/accounts/throttle.py; the trade-offs are in docs/decisions.md).
LOGIN_THROTTLE_WINDOW = timedelta(minutes=int(os.environ.get("LOGIN_THROTTLE_MINUTES", "15")))
# One account from one address: refused after this many failures until the window passes.
LOGIN_THROTTLE_MAX_FAILURES_PER_PAIR = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
# One address, any accounts: high, because offices and campuses share an address.
LOGIN_THROTTLE_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_MAX_FAILURES_ADDRESS", "100"))
# One account from anywhere: never a lock; after this many failures each further attempt
# waits a doubling delay (1 s, 2 s, …) up to the maximum.
LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES = int(os.environ.get("LOGIN_ACCOUNT_FREE_FAILURES", "10"))
LOGIN_THROTTLE_ACCOUNT_MAX_DELAY = timedelta(
    seconds=int(os.environ.get("LOGIN_ACCOUNT_MAX_DELAY_SECONDS", "60"))
)
# An address the account signed in from within this time skips the account-wide delay.
LOGIN_THROTTLE_KNOWN_ADDRESS_AGE = timedelta(
    days=int(os.environ.get("LOGIN_KNOWN_ADDRESS_DAYS", "30"))
)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; nobody else's is.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address.") from _error

# --- Integrations (filled in by their issues; read here so production is env-only) -------
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")
# Search (search/conf.py): "database" by default, "elasticsearch" when ELASTICSEARCH_URL is set.
SEARCH_BACKEND = os.environ.get("SEARCH_BACKEND", "")
SEARCH_ENGINE_IS_OPENSEARCH = (
    env_bool("SEARCH_ENGINE_IS_OPENSEARCH", default=False)
    if os.environ.get("SEARCH_ENGINE_IS_OPENSEARCH", "").strip()
    else None  # ask the server
)
SEARCH_INDEX = os.environ.get("SEARCH_INDEX", "shanhai-products")
SEARCH_ENGINE_TIMEOUT = float(os.environ.get("SEARCH_ENGINE_TIMEOUT", "5"))
SEARCH_ENGINE_RETRY_SECONDS = float(os.environ.get("SEARCH_ENGINE_RETRY_SECONDS", "10"))
# Where this app is served (scheme://host[:port], no trailing slash). The mock's defaults below
# follow it; `serve_demo` and gunicorn.conf.py set it from the address they bind. In debug,
# runserver's default address.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# Payments (docs/payments.md): the SDK talks to STRIPE_API_BASE. The stripe-compatible mock is
# served only in debug unless STRIPE_MOCK_ENABLED says otherwise, and its published keys are
# only the defaults while it is; real Stripe is https://api.stripe.com with real keys.
STRIPE_MOCK_ENABLED = env_bool("STRIPE_MOCK_ENABLED", default=DEBUG)
STRIPE_API_BASE = os.environ.get(
    "STRIPE_API_BASE",
    f"{SITE_URL}/stripe-mock" if STRIPE_MOCK_ENABLED else "https://api.stripe.com",
)
STRIPE_SECRET_KEY = os.environ.get(
    "STRIPE_SECRET_KEY", MOCK_SECRET_KEY if STRIPE_MOCK_ENABLED else ""
)
STRIPE_WEBHOOK_SECRET = os.environ.get(
    "STRIPE_WEBHOOK_SECRET", MOCK_WEBHOOK_SECRET if STRIPE_MOCK_ENABLED else ""
)
# Given to browsers (`paymentConfig`) to confirm a card payment with the intent's client secret.
STRIPE_PUBLISHABLE_KEY = os.environ.get(
    "STRIPE_PUBLISHABLE_KEY", MOCK_PUBLISHABLE_KEY if STRIPE_MOCK_ENABLED else ""
)
STRIPE_MOCK_WEBHOOK_URL = os.environ.get("STRIPE_MOCK_WEBHOOK_URL", f"{SITE_URL}/webhooks/stripe/")

# --- Operations (docs/operations.md) -------------------------------------------------------
# Readiness (/readyz) answers 503 only when one of these checks fails; the others (cache,
# search engine, queue lag) show as "degraded", because the app has fallbacks for them.
READYZ_CRITICAL_CHECKS = env_list("READYZ_CRITICAL_CHECKS", "database,migrations")
# An index update waiting longer than this makes the search_outbox check fail.
SEARCH_OUTBOX_MAX_AGE_SECONDS = int(os.environ.get("SEARCH_OUTBOX_MAX_AGE_SECONDS", "600"))
# /metrics: with a token, `Authorization: Bearer <token>` from anywhere; without one, direct
# (unproxied) connections from these networks only, plus loopback in DEBUG.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network."
        ) from _error
METRICS_MAX_OPERATION_NAMES = int(os.environ.get("METRICS_MAX_OPERATION_NAMES", "200"))
# "json": one JSON object per line (production default, for log shippers); "text": readable.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
# --- Background work (shop/core/jobs.py, docs/operations.md "Background work") ---------------
# "database": jobs are rows run by `manage.py worker` processes (the default, SQLite included);
# "immediate": a job runs in the process that enqueues it, when its transaction commits (the
# test suite's default, so a test sees search up to date after a mutation, as before).
JOBS_BACKEND = os.environ.get("JOBS_BACKEND", "database")
_JOB_BACKENDS = {
    # django-tasks-db's DatabaseBackend, also storing the enqueuing request's id
    "database": "shop.core.job_backend.JobBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
if JOBS_BACKEND not in _JOB_BACKENDS:
    raise ImproperlyConfigured(
        f"JOBS_BACKEND must be 'database' or 'immediate', not {JOBS_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _JOB_BACKENDS[JOBS_BACKEND]}}
# A worker refreshes its heartbeat this often; a job RUNNING under a worker not seen for the
# lease is run again by another worker.
JOBS_HEARTBEAT_SECONDS = float(os.environ.get("JOBS_HEARTBEAT_SECONDS", "5"))
JOBS_LEASE_SECONDS = float(os.environ.get("JOBS_LEASE_SECONDS", "60"))
# /readyz shows the task queue as lagging (and /metrics its age) past this wait of a due job.
JOBS_MAX_LAG_SECONDS = float(os.environ.get("JOBS_MAX_LAG_SECONDS", "300"))
# Periodic jobs off (e.g. a worker dedicated to one queue on another machine): `worker
# --no-schedules` does the same per process.
JOBS_SCHEDULES_ENABLED = env_bool("JOBS_SCHEDULES_ENABLED", default=True)
# The periodic jobs (what cron used to run): a list of shop.core.jobs.Schedule.
JOBS_SCHEDULES = os.environ.get("JOBS_SCHEDULES", "shop.schedules.SCHEDULES")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "shop.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {"()": "shop.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The stripe SDK logs every request at INFO; its failures surface as our own errors.
    # The Elasticsearch client logs every request at INFO; search failures are logged by search.
    "loggers": {"stripe": {"level": "WARNING"}, "elastic_transport": {"level": "WARNING"}},
}

# --- Catalog rules (docs/design.md §3) ------------------------------------------------------
# The county recommendation step of "主体自愿申请、县级部门推荐、平台审核".
SUPPLIER_COUNTY_STEP = env_bool("SUPPLIER_COUNTY_STEP", default=True)
SUPPLIER_REAPPLY_COOLING_OFF_DAYS = int(os.environ.get("SUPPLIER_REAPPLY_COOLING_OFF_DAYS", "365"))
QUALIFICATION_REMINDER_DAYS = (90, 30, 7)
SUPPLIER_EXIT_COMPLAINTS = int(os.environ.get("SUPPLIER_EXIT_COMPLAINTS", "3"))
SUPPLIER_EXIT_COMPLAINT_WINDOW_DAYS = int(
    os.environ.get("SUPPLIER_EXIT_COMPLAINT_WINDOW_DAYS", "365")
)
PRODUCT_CERTIFICATION_DEFAULT_DAYS = 365

# --- Payment terms (docs/decisions.md, "Payment within 30 days (issue 17)") ---------------
# 保障中小企业款项支付条例: pay within 30 days of acceptance. Day 1 is the business day after
# the acceptance date (Asia/Shanghai), so the due date is the acceptance date + this many days.
PAYMENT_TERM_DAYS = int(os.environ.get("PAYMENT_TERM_DAYS", "30"))
# `send_payment_reminders` reminds the buyer this many days before the due date, and on it.
PAYMENT_REMINDER_DAYS_BEFORE = int(os.environ.get("PAYMENT_REMINDER_DAYS_BEFORE", "5"))

# --- Notifications: outbound webhooks and e-mail (docs/notifications.md) --------------------
# An endpoint must be https and reach a public address; both are relaxed in DEBUG (a receiver
# on the developer's machine) and can be set for a closed network that calls its own hosts.
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", default=DEBUG)
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", default=DEBUG)
WEBHOOKS_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOKS_TIMEOUT_SECONDS", "10"))
# Retries: 1 min after the first failure, doubling, at most 4 h apart; the 12th failure is
# final (about 16 hours after the event).
WEBHOOKS_RETRY_SECONDS = float(os.environ.get("WEBHOOKS_RETRY_SECONDS", "60"))
WEBHOOKS_RETRY_MAX_SECONDS = float(os.environ.get("WEBHOOKS_RETRY_MAX_SECONDS", "14400"))
WEBHOOKS_MAX_ATTEMPTS = int(os.environ.get("WEBHOOKS_MAX_ATTEMPTS", "12"))
WEBHOOKS_MAX_ENDPOINTS = int(os.environ.get("WEBHOOKS_MAX_ENDPOINTS", "10"))
# Deliveries one job run sends at most; the schedule's next run takes the rest.
WEBHOOKS_MAX_PER_RUN = int(os.environ.get("WEBHOOKS_MAX_PER_RUN", "500"))
