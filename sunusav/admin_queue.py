"""What a work queue's admin adds to Django's: the whole width for the list, filters kept, a "Suivant" item.

The alert queue and the held-payment queue are worked one item after
another from a filtered list (say "open fraud alerts of today"):

- the list takes the screen's width (no navigation sidebar on the queue's own
  list, the header's links stay), so a row is one line at 1366 px;
- an item opened from the list keeps the list's filters (Django's
  `_changelist_filters`); acting on it from its page posts to the list *with*
  those filters, so the analyst lands back on the same filtered list
  (`queue_list_url`), as after a bulk action;
- the item's page links to the next item of that same filtered, sorted list
  ("Suivant", `next_url` in the page's context).
"""

from __future__ import annotations

import copy

from django.contrib.admin.options import IncorrectLookupParameters
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode

# How far down the filtered list "Suivant" looks for the item shown (its primary keys only).
NEXT_SCAN = 2000


class WorkQueueAdminMixin:
    """A ModelAdmin worked as a queue: full-width list, preserved filters after acting, a next item."""

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, extra_context={"is_nav_sidebar_enabled": False, **(extra_context or {})}
        )

    def queue_filters(self, request) -> str:
        """Return the list's filters this request carries ("statut=open&o=1"), from an item's page or the list."""
        if "_changelist_filters" in request.GET:
            return request.GET["_changelist_filters"]
        return request.GET.urlencode()

    def queue_list_url(self, request) -> str:
        """Return the list's URL with the filters the request carries (where acting from a page lands)."""
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )
        filters = self.queue_filters(request)
        return f"{url}?{filters}" if filters else url

    def queue_next(self, request, obj):
        """Return the next item after `obj` in the list as filtered and sorted by the request's filters, or None.

        When `obj` has left the list (resolved under an "open" filter), the
        next item is the list's first.
        """
        filters = self.queue_filters(request)
        list_request = copy.copy(request)
        list_request.GET = QueryDict(filters)
        list_request.method = "GET"
        try:
            changelist = self.get_changelist_instance(list_request)
        except IncorrectLookupParameters:
            return None
        pks = list(changelist.get_queryset(list_request).values_list("pk", flat=True)[: NEXT_SCAN + 1])
        if obj.pk in pks:
            index = pks.index(obj.pk)
            return pks[index + 1] if index + 1 < len(pks) else None
        return pks[0] if pks else None

    def queue_item_url(self, request, pk) -> str:
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk], current_app=self.admin_site.name
        )
        filters = self.queue_filters(request)
        return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            next_pk = self.queue_next(request, obj)
            context["next_url"] = self.queue_item_url(request, next_pk) if next_pk is not None else None
            context["queue_list_url"] = self.queue_list_url(request)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
