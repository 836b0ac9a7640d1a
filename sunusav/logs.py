"""Structured logs: one JSON line per event, each carrying the request id of the work it belongs to.

The request id comes from a valid `X-Request-ID` header or is generated
(`sunusav.middleware`), lives in a context variable for the request, is echoed
in the response, written into decision rows (`ai_metrics.meta.request_id`) and
alert payloads, and rides along with every django-q2 job the request enqueues:
a `pre_enqueue` receiver copies it into the task package and a `pre_execute`
receiver sets it in the worker, so the job's logs and rows carry it too.

No token and no phone number may reach a log line. Code never logs them; the
`Redact` filter on the handlers is the safety net that masks configured
tokens and phone-like strings if something (a third-party message, an
exception text) slips one through.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("sunusav_request_id", default=None)

# Short and of a safe charset, so a header can neither forge log lines nor smuggle data.
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Phone numbers as they appear in Senegal: +221 / 00221 / 221 then 7x xxx xx xx, or the
# 9-digit national form with separators; digits inside hex ids (UUIDs) do not match.
PHONE_RE = re.compile(
    r"(?<![0-9A-Za-z-])(?:(?:\+|00)?221[ .-]?)?7[05-8][ .-]?\d{3}[ .-]?\d{2}[ .-]?\d{2}(?![0-9A-Za-z-])"
    r"|\+\d{8,14}(?!\d)"
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
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":"))


class Redact(logging.Filter):
    """Mask configured tokens and phone-like strings in a record's message and string extras."""

    def __init__(self, name: str = ""):
        super().__init__(name)
        self._secrets: tuple[str, ...] | None = None

    def _configured_secrets(self) -> tuple[str, ...]:
        if self._secrets is None:
            from django.conf import settings

            secrets = [*getattr(settings, "AI_INTERNAL_TOKENS", []), getattr(settings, "SECRET_KEY", "")]
            secrets += [getattr(settings, "NOTIFICATION_WEBHOOK_SECRET", "")]
            self._secrets = tuple(s for s in secrets if s and len(s) >= 8)
        return self._secrets

    def _clean(self, text: str) -> str:
        for secret in self._configured_secrets():
            if secret in text:
                text = text.replace(secret, "[token]")
        return PHONE_RE.sub("[phone]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self._clean(value))
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
