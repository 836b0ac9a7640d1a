"""Settings for SunuSàv Risk Ops.

Every deployment knob comes from the environment (django-environ). With no
environment at all the product runs on a bare machine: SQLite file database,
django-q2's ORM broker, the local-memory-free database cache and a development
secret. Production differs only by environment variables.
"""

import os
import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer may keep local overrides in .env; it is never required.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-insecure-sunusav-risk-ops-secret-key-change-me"
DEV_INTERNAL_TOKEN = "dev-internal-token"

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Service-to-service tokens (X-Internal-Token). Several may be valid at once so
# a token can be rotated without downtime: add the new one, move the callers,
# then remove the old one.
AI_INTERNAL_TOKENS = [t for t in env.list("AI_INTERNAL_TOKENS", default=[DEV_INTERNAL_TOKEN]) if t]

if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to a real secret (32+ characters).")
    if not AI_INTERNAL_TOKENS or DEV_INTERNAL_TOKEN in AI_INTERNAL_TOKENS:
        raise ImproperlyConfigured("DEBUG is off: set AI_INTERNAL_TOKENS to real tokens (comma-separated).")
    if any(len(t) < 24 for t in AI_INTERNAL_TOKENS):
        raise ImproperlyConfigured("Every AI_INTERNAL_TOKENS entry must be at least 24 characters.")

# Key for hashing members' phone numbers; phones are never stored in clear.
PHONE_HASH_KEY = env.str("PHONE_HASH_KEY", default=SECRET_KEY)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_q",
    "sunusav",
    "alerts",
    "cases",
    "credit",
    "fraud",
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so every page gets the header, whichever middleware answered it.
    "sunusav.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The browser-only middleware let /api/ requests straight through
    # (sunusav/api/middleware.py): the API authenticates by token and answers JSON.
    "sunusav.api.middleware.BrowserSessionMiddleware",
    "sunusav.api.middleware.BrowserLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "sunusav.api.middleware.BrowserAuthenticationMiddleware",
    "sunusav.api.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A page that needs the shared cache while it is down answers a French 503, not a 500.
    "sunusav.middleware.CacheOutagePageMiddleware",
]

ROOT_URLCONF = "sunusav.urls"
WSGI_APPLICATION = "sunusav.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -----------------------------------------------------------------
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
# No health check per request: it is one more round trip (SELECT 1) on every API call. After a
# database restart each worker answers one request 503 (the API's DatabaseError handler), Django
# then drops the broken connection and the next request reconnects (docs/OPERATIONS.md).
_db["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
# Persistent connections on both engines: on SQLite a new connection per
# request re-runs the WAL pragmas and cost ~6 ms a request under load.
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL + synchronous=NORMAL: an audit write costs ~0.02 ms instead of an fsync
    # per commit; IMMEDIATE transactions and a busy timeout stop "database is
    # locked" when the web server and django-q2's ORM broker share the file.
    _db.setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests that start real worker processes need a test database those
    # processes can open too: a file, not SQLite's default in-memory one.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
else:
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and queues -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds a cache call may wait for Redis: a partitioned network must not hold
# a request for the OS's connect timeout (minutes). Nothing on the request path
# needs the cache to decide (sunusav/api/cache_guard.py), so failing fast is safe.
REDIS_CACHE_TIMEOUT = env.float("REDIS_CACHE_TIMEOUT", default=0.5)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_CACHE_TIMEOUT, "socket_timeout": REDIS_CACHE_TIMEOUT},
        }
    }
else:
    # The database cache is shared by every process (gunicorn workers, q
    # clusters), which throttling and the model registry rely on.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "sunusav_cache",
        }
    }

# django-q2: two queues, `credit` and `fraud`, each with a high and a normal
# priority list (sunusav/brokers.py). On the embedded default one cluster
# ("sunusav") serves both; in production each runs apart with
# `Q_CLUSTER_NAME=credit python manage.py qcluster` (or `fraud`), with its own
# workers, timeout and retry. retry > timeout, so a running job is never handed
# out twice; a job whose worker died comes back after `retry` seconds.
_CREDIT_TIMEOUT = env.int("Q_CREDIT_TIMEOUT", default=600)
_FRAUD_TIMEOUT = env.int("Q_FRAUD_TIMEOUT", default=60)
Q_CLUSTER = {
    "name": "sunusav",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": max(_CREDIT_TIMEOUT, _FRAUD_TIMEOUT),
    "retry": env.int("Q_RETRY", default=max(_CREDIT_TIMEOUT, _FRAUD_TIMEOUT) + 60),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=5),
    # A short local queue keeps priorities honest: work waits in the broker,
    # where high-priority jobs overtake it, not in a worker's prefetch buffer.
    "queue_limit": env.int("Q_QUEUE_LIMIT", default=1),
    "bulk": 1,
    "poll": env.float("Q_POLL", default=0.2),
    "catch_up": False,  # no storm of missed schedules after downtime
    "save_limit": 10000,
    "label": "Django Q2",
    "ALT_CLUSTERS": {
        "credit": {
            "workers": env.int("Q_CREDIT_WORKERS", default=2),
            "timeout": _CREDIT_TIMEOUT,
            "retry": env.int("Q_CREDIT_RETRY", default=_CREDIT_TIMEOUT + 60),
            "max_attempts": env.int("Q_CREDIT_MAX_ATTEMPTS", default=5),
        },
        "fraud": {
            "workers": env.int("Q_FRAUD_WORKERS", default=2),
            "timeout": _FRAUD_TIMEOUT,
            "retry": env.int("Q_FRAUD_RETRY", default=_FRAUD_TIMEOUT + 30),
            "max_attempts": env.int("Q_FRAUD_MAX_ATTEMPTS", default=10),
        },
    },
}
Q_QUEUES_SERVED = {"sunusav": ["credit", "fraud"], "credit": ["credit"], "fraud": ["fraud"]}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "sunusav.brokers.ReliableRedis"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "sunusav.brokers.PriorityORM"
# The job ledger (sunusav/jobs.py): an accepted job neither done nor held by the
# broker this long after it was enqueued is enqueued again (checked every 5
# minutes); records of finished jobs are kept JOBS_RETENTION_DAYS.
JOBS_RECONCILE_GRACE_SECONDS = env.int("JOBS_RECONCILE_GRACE_SECONDS", default=300)
JOBS_RETENTION_DAYS = env.int("JOBS_RETENTION_DAYS", default=7)

# --- Auth, i18n ----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="fr")
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Africa/Dakar"
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) ------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["sunusav.api.auth.InternalTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["sunusav.api.auth.IsInternalService"],
    # The project's parser on every view (not only those that name it): duplicate keys, deep
    # nesting and lone surrogates are 400s there, and NaN is refused by field name.
    "DEFAULT_PARSER_CLASSES": ["sunusav.api.parsers.NumbersNamingJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["sunusav.api.renderers.OrjsonRenderer"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "sunusav.api.errors.exception_handler",
}
API_BATCH_LIMIT = 1000

# --- Machine learning -------------------------------------------------------------
ML_ARTIFACTS_DIR = Path(env.str("ML_ARTIFACTS_DIR", default=str(BASE_DIR / "ml_artifacts")))
# How often a process re-reads which model version is active (seconds), so an
# activation in the admin reaches every worker without a restart.
ML_REGISTRY_REFRESH_SECONDS = env.float("ML_REGISTRY_REFRESH_SECONDS", default=30.0)

# --- Notifications outbox -----------------------------------------------------------
NOTIFICATION_SENDER = env.str("NOTIFICATION_SENDER", default="alerts.senders.LogSender")
NOTIFICATION_WEBHOOK_URL = env.str("NOTIFICATION_WEBHOOK_URL", default="")
NOTIFICATION_WEBHOOK_SECRET = env.str("NOTIFICATION_WEBHOOK_SECRET", default="")
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
NOTIFICATION_LEASE_SECONDS = env.int("NOTIFICATION_LEASE_SECONDS", default=60)

# --- Liquidity ----------------------------------------------------------------------
LIQUIDITY_SHORTFALL_SHARE = env.float("LIQUIDITY_SHORTFALL_SHARE", default=0.15)
LIQUIDITY_LOOKAHEAD_DAYS = env.float("LIQUIDITY_LOOKAHEAD_DAYS", default=3.0)
# Alerts (all types) the analysts can review in a day: above it the dashboard warns
# that thresholds raise more alerts than the team can review (backoffice.drift).
ANALYST_DAILY_CAPACITY = env.int("ANALYST_DAILY_CAPACITY", default=200)
# Scheduled retraining of both models from the database (analysts' fraud verdicts
# and loan outcomes are the labels): "off", "weekly" or "daily" (at night, from 02:00).
# A new version serves only if it beats the active one on held-out data.
RETRAIN_SCHEDULE = env.str("RETRAIN_SCHEDULE", default="off")
if RETRAIN_SCHEDULE not in {"off", "weekly", "daily"}:
    raise ImproperlyConfigured("RETRAIN_SCHEDULE must be off, weekly or daily.")

# --- Retention ----------------------------------------------------------------------
METRICS_RETENTION_DAYS = env.int("METRICS_RETENTION_DAYS", default=400)
ALERTS_RETENTION_DAYS = env.int("ALERTS_RETENTION_DAYS", default=730)
NOTIFICATIONS_RETENTION_DAYS = env.int("NOTIFICATIONS_RETENTION_DAYS", default=90)
# Which django-q2 cluster runs the schedules: empty on the embedded default (the
# one cluster); "credit" when credit and fraud clusters run apart.
Q_SCHEDULE_CLUSTER = env.str("Q_SCHEDULE_CLUSTER", default="") or None

# LOGGING: see "Observability" below.

if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Fraud ------------------------------------------------------------------------
# Decision thresholds on the combined fraud score in [0, 1] (fraud/detectors.py):
# hold at or above FRAUD_HOLD_THRESHOLD, review at or above FRAUD_REVIEW_THRESHOLD.
FRAUD_REVIEW_THRESHOLD = env.float("FRAUD_REVIEW_THRESHOLD", default=0.5)
FRAUD_HOLD_THRESHOLD = env.float("FRAUD_HOLD_THRESHOLD", default=0.8)
# What to decide when scoring itself fails (never a made-up score): allow, review or hold.
FRAUD_DEFAULT_ACTION = env.str("FRAUD_DEFAULT_ACTION", default="review")
# The reporting limit the structuring rule watches (amounts just under it, in a
# run): one value for the rule, the model card and the demo world (100,000 sats).
FRAUD_STRUCTURING_LIMIT_SATS = env.int("FRAUD_STRUCTURING_LIMIT_SATS", default=100_000)
# The fraud model's supervised layer (fraud/supervised.py) is trained, and may serve, only with at least
# this many labelled fraudulent payments (and ten times as many honest ones) among its training members.
FRAUD_SUPERVISED_MIN_FRAUD = env.int("FRAUD_SUPERVISED_MIN_FRAUD", default=100)
if not 0 <= FRAUD_REVIEW_THRESHOLD <= FRAUD_HOLD_THRESHOLD <= 1:
    raise ImproperlyConfigured("Need 0 <= FRAUD_REVIEW_THRESHOLD <= FRAUD_HOLD_THRESHOLD <= 1.")
if FRAUD_DEFAULT_ACTION not in {"allow", "review", "hold"}:
    raise ImproperlyConfigured("FRAUD_DEFAULT_ACTION must be allow, review or hold.")
# A hold on a Lightning invoice lasts as long as the invoice: when it expires
# unreviewed, the every-minute sweep (fraud.holds) applies this default as the
# system, audited as "expire". Reject by default: an unreviewed suspicious
# invoice should not be paid.
HOLD_EXPIRY_DEFAULT = env.str("HOLD_EXPIRY_DEFAULT", default="reject")
if HOLD_EXPIRY_DEFAULT not in {"reject", "release"}:
    raise ImproperlyConfigured("HOLD_EXPIRY_DEFAULT must be reject or release.")
# A payment event's created_at is accepted from PAYMENT_MAX_AGE_HOURS before the
# server's clock to PAYMENT_CLOCK_SKEW_SECONDS after it (else 400); a payment is
# screened at its created_at and at its arrival, the stricter answer standing.
PAYMENT_MAX_AGE_HOURS = env.float("PAYMENT_MAX_AGE_HOURS", default=24.0)
PAYMENT_CLOCK_SKEW_SECONDS = env.int("PAYMENT_CLOCK_SKEW_SECONDS", default=300)

# --- Credit ---------------------------------------------------------------------------
# Offers: the amount is a band-dependent share of what the member paid into
# tontines over the feature window (converted to XOF), rounded down to
# CREDIT_OFFER_STEP_XOF and kept within [MIN, MAX]; bands without a share get no offer.
CREDIT_XOF_PER_SAT = env.float("CREDIT_XOF_PER_SAT", default=0.6)

# Cases (cases.services). SLA: hours from opening to decision, by kind and severity
# (1 low, 2 medium, 3 high, 4 critical); CASE_SLA_HOURS='{"fraud": {"4": 1}}' overrides some.
_CASE_SLA_DEFAULT = {
    "fraud": {"1": 72, "2": 24, "3": 4, "4": 1},
    "liquidity": {"1": 72, "2": 48, "3": 24, "4": 12},
}
CASE_SLA_HOURS = {
    kind: {**hours, **{str(k): v for k, v in env.json("CASE_SLA_HOURS", default={}).get(kind, {}).items()}}
    for kind, hours in _CASE_SLA_DEFAULT.items()
}
# Confirming fraud on more than this at stake needs a second user's approval (four eyes).
CASE_FOUR_EYES_XOF = env.int("CASE_FOUR_EYES_XOF", default=250_000)
# A held payment of at least this much makes its case critical.
CASE_CRITICAL_XOF = env.int("CASE_CRITICAL_XOF", default=500_000)
# New cases go round-robin to analysts on duty (who may decide cases and logged in within the hours).
CASE_AUTO_ASSIGN = env.bool("CASE_AUTO_ASSIGN", default=False)
CASE_ON_DUTY_HOURS = env.int("CASE_ON_DUTY_HOURS", default=10)
CREDIT_OFFER_SHARE_BY_BAND = {"A": 0.5, "B": 0.35, "C": 0.2}
CREDIT_OFFER_MIN_XOF = env.int("CREDIT_OFFER_MIN_XOF", default=5_000)
CREDIT_OFFER_MAX_XOF = env.int("CREDIT_OFFER_MAX_XOF", default=500_000)
CREDIT_OFFER_STEP_XOF = 500
# Members per chunk in `score_users` (one feature query set, one predict, one write each).
CREDIT_SCORE_CHUNK = env.int("CREDIT_SCORE_CHUNK", default=5000)
# The nightly job rescores members whose score is older than this.
CREDIT_STALE_DAYS = env.int("CREDIT_STALE_DAYS", default=7)
# --- end Credit -------------------------------------------------------------------------

# --- Security and limits (issue 7) ----------------------------------------------------
# Per-token sliding-window limit on the shared cache (sunusav/api/throttling.py):
# "N/s", "N/min", "N/h"; empty disables it. The default (3,000 a second per
# token) sits well above the fraud check's 1,000 requests/s target.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="180000/min")
# While the shared cache is down each web worker enforces the rate divided by
# this alone (gunicorn's WEB_CONCURRENCY, as gunicorn.conf.py reads it).
API_THROTTLE_WORKERS = env.int("WEB_CONCURRENCY", default=os.cpu_count() or 1)
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["sunusav.api.throttling.InternalTokenRateThrottle"]
# Largest request body (bytes): 413 JSON past it on /api/. A full batch of 1,000
# items is ~250 kB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=1_048_576)
MIDDLEWARE.insert(1, "sunusav.api.middleware.ApiBodySizeLimitMiddleware")

# OpenAPI (drf-spectacular) at /api/schema/, docs at /api/docs/ with Swagger UI
# served from the sidecar package's static files (no CDN).
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar", "axes"]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "SunuSàv Risk Ops API",
    "DESCRIPTION": "Internal risk API: credit scoring, fraud checks, events. Every call needs X-Internal-Token.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"DecisionEnum": ["allow", "review", "hold"]},
    "PREPROCESSING_HOOKS": ["sunusav.api.schema.api_paths_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sunusav.api.schema.strict_request_bodies",
    ],
}

# Admin lockout (django-axes) on the shared cache: a username is locked after
# AXES_FAILURE_LIMIT failed logins, for AXES_COOLOFF_HOURS, in every process.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
# When axes locks a username, that user's open sessions end too (sunusav.sessions, connected in SunusavConfig.ready).
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password"]
# Accounts, not addresses, are locked: behind the proxy every analyst shares
# one address, and an address lock would shut the whole team out.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), "axes.W006"]

# Content-Security-Policy of every page outside /api/ (sunusav.middleware): scripts,
# styles, images and fonts from this site only (no CDN: the admin and Swagger's
# assets are served by whitenoise), no plugins, forms posting here only, never
# framed. No template has an inline script. Styles also allow 'unsafe-inline':
# several admin templates still carry <style> blocks and style="" attributes
# (templates/admin/sunusav/member/change_form.html, tontine/change_form.html,
# modelversion/detail.html, heldpayment/{change_list,change_form,review_confirmation}.html,
# templates/admin/alerts/aialert/{change_list,change_form,resolve_confirmation}.html);
# once they move to sunusav/static/backoffice/backoffice.css, drop it.
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
)

if not DEBUG:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see above).
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]  # load balancers probe over plain HTTP
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_HTTPONLY = True
# --- end Security and limits ------------------------------------------------------------

# --- Observability (issue 10) -------------------------------------------------------------
# First middleware: request id (X-Request-ID, validated, or generated; echoed in
# the response), per-stage timer, latency histogram, one JSON log line per request.
MIDDLEWARE.insert(0, "sunusav.middleware.ObservabilityMiddleware")
# /metrics answers the internal token; callers from these networks (CIDRs, e.g. the
# Prometheus server's private subnet) may scrape without it. Empty: token only.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# Logs: one JSON object per line on stderr for servers, CI and files; short plain lines
# when stderr is a person's terminal (`make demo`); LOG_FORMAT=json|plain|terminal forces
# one. Tokens and phone-like strings are masked by the `redact` filter in every format.
LOG_FORMAT = env.str("LOG_FORMAT", default="terminal" if sys.stderr.isatty() else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "sunusav.logs.Redact"}},
    "formatters": {
        "json": {"()": "sunusav.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "terminal": {"()": "sunusav.logs.TerminalFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in ("plain", "terminal") else "json",
            "filters": ["redact"],
        }
    },
    # On a terminal, one line per alert, job or model load ("alert.opened", django-q2's "Enqueued",
    # "processing", "traité") drowns what matters: only warnings, errors and the request lines show
    # there. Servers keep everything (JSON, INFO). LOG_LEVEL overrides both.
    "root": {
        "handlers": ["console"],
        "level": env.str("LOG_LEVEL", default="WARNING" if LOG_FORMAT == "terminal" else "INFO"),
    },
    "loggers": {"sunusav.request": {"level": "INFO"}} if LOG_FORMAT == "terminal" else {},
}
# --- end Observability ----------------------------------------------------------------------
