"""Structured logs: one JSON line per event, each carrying the request id of the work it belongs to.

The request id comes from a valid `X-Request-ID` header or is generated
(`sunusav.middleware`), lives in a context variable for the request, is echoed
in the response, written into decision rows (`ai_metrics.meta.request_id`) and
alert payloads, and rides along with every django-q2 job the request enqueues:
a `pre_enqueue` receiver copies it into the task package and a `pre_execute`
receiver sets it in the worker, so the job's logs and rows carry it too.

No token and no phone number may reach a log line. Code never logs them; the
`Redact` filter on the handlers is the safety net that masks configured
tokens, secret-named query values (`?token=...`, `password=...`) and
phone-like strings if something slips one through: a third-party message,
an exception text, or Django's own `django.request` records, whose `request`
extra is the request object itself (its text holds the path and the query).
Every field of a record is cleaned: the message and its arguments, every
extra (objects by their text, containers item by item), the exception and
the stack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import setting_changed
from django.http import HttpRequest

request_id_var: ContextVar[str | None] = ContextVar("sunusav_request_id", default=None)

# Short and of a safe charset, so a header can neither forge log lines nor smuggle data.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Phone numbers as they appear in Senegal: +221 / 00221 / 221 then 7x xxx xx xx, or the
# 9-digit national form, with spaces, dots or dashes between groups, also URL-encoded
# ("%2B221", "%20", "+" for a space in a query); digits inside hex ids (UUIDs) do not match.
_PHONE_SEP = r"(?:[ .+-]|%20)?"
PHONE_RE = re.compile(
    rf"(?<![0-9A-Za-z-])(?:(?:\+|%2[Bb]|00)?221{_PHONE_SEP})?"
    rf"7[05-8]{_PHONE_SEP}\d{{3}}{_PHONE_SEP}\d{{2}}{_PHONE_SEP}\d{{2}}(?![0-9A-Za-z-])"
    r"|\+\d{8,14}(?!\d)"
)
# A query-string or form value whose name says it is secret (token, access_token, secret, password...).
SECRET_PARAM_RE = re.compile(
    r"(?i)((?<![0-9a-z])[\w.-]*(?:token|secret|password|passwd|api[_-]?key)[\w.-]*=)[^&\s'\"<>;#]+"
)


def current_request_id() -> str | None:
    """Return the request id of the work in progress (request or job), if any."""
    return request_id_var.get()


def new_request_id() -> str:
    """Return a fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """Return `value` if it is an acceptable request id (short, safe, not a phone number), else None."""
    if not value or len(value) > 64 or not REQUEST_ID_RE.fullmatch(value) or PHONE_RE.search(value):
        return None
    return value


@contextlib.contextmanager
def request_id_bound(value: str | None):
    """Set the request id for the duration of a block (jobs, commands, tests)."""
    token = request_id_var.set(value)
    try:
        yield value
    finally:
        request_id_var.reset(token)


# --- Records and formatting ------------------------------------------------------------

_base_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


def install_record_factory() -> None:
    """Stamp every log record with the current request id when it is created (any handler sees it)."""
    if logging.getLogRecordFactory() is not _record_with_request_id:
        logging.setLogRecordFactory(_record_with_request_id)


_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime", "taskName", "request_id"}
)


_second_cache: list = [None, ""]


def _timestamp(created: float) -> str:
    # ISO 8601 in UTC; the date-and-seconds part is formatted once per second.
    second = int(created)
    if _second_cache[0] != second:
        _second_cache[:] = [second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second_cache[1]}.{int((created - second) * 1e6):06d}Z"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line: ts, level, logger, event, request_id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info or record.exc_text:
            # exc_text: the text the Redact filter already cleaned.
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":"))


_EXCEPTIONS = logging.Formatter()
# Deeper than this an extra is written as its text (still cleaned), not walked.
_MAX_EXTRA_DEPTH = 4
_PLAIN = frozenset((int, float, bool))
_SECRET_SETTINGS = frozenset({"AI_INTERNAL_TOKENS", "SECRET_KEY", "NOTIFICATION_WEBHOOK_SECRET"})
# Bumped when one of those settings changes (tests, override_settings), so every Redact re-reads them.
_secrets_version = [0]


def _secret_setting_changed(*, setting: str, **kwargs) -> None:
    if setting in _SECRET_SETTINGS:
        _secrets_version[0] += 1


setting_changed.connect(_secret_setting_changed, dispatch_uid="sunusav.logs.secret_setting_changed")


class Redact(logging.Filter):
    """Mask configured tokens, secret-named query values and phone-like strings in every field of a record."""

    def __init__(self, name: str = ""):
        super().__init__(name)
        self._version = -1
        self._secrets: tuple[str, ...] = ()
        self._known_clean: set[str] = set()

    def _configured_secrets(self) -> tuple[str, ...]:
        # Read once, and again only when a setting changed: settings lookups cost ~1 us each.
        if self._version != _secrets_version[0]:
            from django.conf import settings

            version = _secrets_version[0]
            secrets = {
                *getattr(settings, "AI_INTERNAL_TOKENS", ()),
                getattr(settings, "SECRET_KEY", ""),
                getattr(settings, "NOTIFICATION_WEBHOOK_SECRET", ""),
            }
            # Longest first, so a token containing another is masked whole.
            self._secrets = tuple(sorted((s for s in secrets if s and len(s) >= 8), key=len, reverse=True))
            self._known_clean = set()  # clean under the old secrets, maybe not under the new
            self._version = version
        return self._secrets

    def _clean(self, text: str) -> str:
        if text in self._known_clean:
            return text
        original = text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "[token]")
        if "=" in text:
            text = SECRET_PARAM_RE.sub(r"\1[secret]", text)
        text = PHONE_RE.sub("[phone]", text)
        # Short strings that needed nothing (view names, methods, stage names) come back with every
        # record: remembered, they cost a set lookup. Only clean ones, so no secret is kept here.
        if text == original and len(text) <= 64:
            if len(self._known_clean) >= 4096:
                self._known_clean.clear()
            self._known_clean.add(text)
        return text

    def _clean_value(self, value, depth: int = 0):
        """Return `value` with every string in it cleaned; objects become their cleaned text."""
        kind = type(value)
        if kind is str:
            return self._clean(value)
        if value is None or kind in _PLAIN or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self._clean(value)
        if depth < _MAX_EXTRA_DEPTH:
            if isinstance(value, dict):
                return {self._clean_value(k, depth + 1): self._clean_value(v, depth + 1) for k, v in value.items()}
            if isinstance(value, list | tuple | set | frozenset):
                return [self._clean_value(item, depth + 1) for item in value]
        if isinstance(value, HttpRequest):
            # Django's repr, rebuilt: "<WSGIRequest: GET '/path?query'>", then cleaned.
            return self._clean(f"<{type(value).__name__}: {value.method} {value.get_full_path()!r}>")
        return self._clean(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        self._configured_secrets()
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep both, as text
            message = f"{record.msg} {record.args!r}"
        cleaned = self._clean(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, ()
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and value is not None:
                cleaned_value = self._clean_value(value)
                if cleaned_value is not value:
                    setattr(record, key, cleaned_value)
        if record.exc_info and not record.exc_text:
            # Formatted here, once: the formatters then write this text (sunusav's and logging's).
            record.exc_text = _EXCEPTIONS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


# --- Jobs ----------------------------------------------------------------------------


def _task_enqueued(sender, task, **kwargs):
    request_id = request_id_var.get()
    if request_id:
        task["request_id"] = request_id


def _task_starting(sender, func, task, **kwargs):
    request_id_var.set(task.get("request_id"))
    install_record_factory()
    logging.getLogger("sunusav.jobs").info(
        "job.start", extra={"job_id": task.get("id"), "func": str(task.get("func")), "queue": task.get("group")}
    )


def _task_finished(sender, func, task, **kwargs):
    logging.getLogger("sunusav.jobs").info(
        "job.end",
        extra={
            "job_id": task.get("id"),
            "func": str(task.get("func")),
            "queue": task.get("group"),
            "success": task.get("success"),
        },
    )
    request_id_var.set(None)


def connect_job_signals() -> None:
    """Carry the request id from the enqueueing request into django-q2 jobs (called from AppConfig.ready)."""
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(_task_enqueued, dispatch_uid="sunusav.logs.enqueued")
    pre_execute.connect(_task_starting, dispatch_uid="sunusav.logs.starting")
    post_execute_in_worker.connect(_task_finished, dispatch_uid="sunusav.logs.finished")


# --- A person's terminal ------------------------------------------------------------------------

# Extras worth a glance on a terminal, in this order (the rest stays in the JSON logs).
_TERMINAL_FIELDS = ("method", "view", "status", "func", "queue", "success", "alert_type", "outcome", "error")


class TerminalFormatter(logging.Formatter):
    """Format a record for a person at a terminal: "21:42:29 POST fraud:check 200 3,1 ms", one short line.

    The default when stderr is a TTY (`make demo`); servers and CI keep JSON
    (LOG_FORMAT=json). The redact filter runs before either.
    """

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = "" if record.levelno < logging.WARNING else f"{record.levelname} "
        parts = [str(getattr(record, name)) for name in _TERMINAL_FIELDS if getattr(record, name, None) is not None]
        duration = getattr(record, "duration_us", None)
        if isinstance(duration, int | float):
            parts.append(f"{duration / 1000:.1f} ms")
        event = record.getMessage()
        if event != "request":  # a request line is its method, view, status and time
            parts.insert(0, event)
        text = f"{clock} {level}{' '.join(parts)}"
        if record.exc_info or record.exc_text:
            text += "\n" + (record.exc_text or self.formatException(record.exc_info))
        return text
