"""Ending the stored sessions of a user django-axes has just locked out."""

from __future__ import annotations

import logging
import math
import time
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.utils import timezone

# Per process: a lockout is announced again at each refused login while it lasts;
# one pass over the sessions per user and minute is enough (no new login can succeed meanwhile).
_ENDED_RECENTLY: dict[str, float] = {}


def sessions_of_locked_user_end(sender, *, username: str | None = None, **kwargs) -> int:
    """End every stored session of a user django-axes has just locked (receiver of `user_locked_out`).

    Axes refuses new logins to a locked username, but a session opened before
    the lock went on working: whoever was guessing the password may already
    hold it, or the owner left a browser open. Return how many sessions ended.
    """
    if not username:
        return 0
    now = time.monotonic()
    if now - _ENDED_RECENTLY.get(username, -math.inf) < 60:
        return 0
    user_model = get_user_model()
    pks = {
        str(pk)
        for pk in user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).values_list(
            "pk", flat=True
        )
    }
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not pks or not hasattr(store, "get_model_class"):
        return 0  # unknown user, or sessions that cannot be listed (signed cookies, cache)
    if len(_ENDED_RECENTLY) > 10_000:  # many users locked at once: forget, rather than grow
        _ENDED_RECENTLY.clear()
    _ENDED_RECENTLY[username] = now
    ended = 0
    rows = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for key, data in rows.values_list("session_key", "session_data").iterator():
        if store().decode(data).get(SESSION_KEY) in pks:
            store(session_key=key).delete()
            ended += 1
    if ended:
        logging.getLogger("sunusav.security").warning(
            "session.ended_on_lockout", extra={"caller": f"user:{min(pks)}", "sessions": ended}
        )
    return ended
