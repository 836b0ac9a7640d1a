"""CSV export of an admin list, streamed: exactly the rows of the list as filtered and searched.

`CsvExportMixin` goes first on a ModelAdmin's class line with a `csv_fields`
list of (header label, getter): a getter is a callable taking the object, or
an attribute path ("member__display_name"); a field with choices reads as its
label in the UI language. It adds `<changelist>/export.csv` (URL name
`<app>_<model>_export_csv`) and an "Exporter en CSV" link in the list's object
tools (templates/admin/change_list_object_tools.html) carrying the list's own
query string, so the export follows its filters, search and order (the view
rebuilds the admin's ChangeList from the same request).

The file is what Excel opens right in a French locale: UTF-8 with a BOM, `;`
between columns, headers in the UI language (French by default), numbers in
plain form (no grouping, a dot for decimals), dates and times in ISO 8601 in
Africa/Dakar. Text that a spreadsheet would read as a formula is prefixed
with a quote. Rows are read with `.iterator(chunk_size=2000)` and written as
they come (StreamingHttpResponse), so an export of a million rows never holds
them in memory.

Exporting takes `sunusav.export_data` beside the list's view permission, and
every export is a line of the analysts' trail (action "export", target the
exported model, `after` = the filters, the search and the row count).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models, transaction
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import strip_tags
from django.utils.safestring import SafeData
from django.utils.translation import gettext

from sunusav.audit_trail import action_record
from sunusav.models import AnalystAction

EXPORT_PERMISSION = "sunusav.export_data"
CHUNK_SIZE = 2000
DAKAR = ZoneInfo("Africa/Dakar")
BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel or LibreOffice (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Getter = Callable[[object], object] | str


class _Echo:
    """The file-like object csv.writer writes to: it hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


class _ExportTarget:
    """What the trail names as the export's object: the exported model, the export itself as id."""

    pk = "export"

    def __init__(self, opts):
        self._meta = opts


def cell(value) -> str:
    """One value as the CSV shows it: plain numbers, ISO dates in Dakar time, labels, no HTML."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("oui") if value else gettext("non")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(DAKAR)
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, models.Model):
        value = str(value)
    text = strip_tags(value) if isinstance(value, SafeData) else str(value) if isinstance(value, Promise) else value
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _reader(model, getter: Getter) -> Callable[[object], object]:
    """Return the function reading one column of `model`'s rows, resolved once per export (not per row)."""
    if callable(getter):
        return getter
    *hops, last = getter.replace(".", "__").split("__")
    target = model
    for hop in hops:
        try:
            target = target._meta.get_field(hop).related_model
        except (AttributeError, FieldDoesNotExist):
            target = None
            break
    try:
        field = target._meta.get_field(last) if target is not None else None
    except FieldDoesNotExist:
        field = None
    # A field with choices reads as its label, looked up in a dict made once (not Django's per-row display).
    labels = {value: str(label) for value, label in field.flatchoices} if getattr(field, "choices", None) else None

    def read(obj):
        for hop in hops:
            obj = getattr(obj, hop, None)
            if obj is None:
                return None
        value = getattr(obj, last, None)
        return labels.get(value, value) if labels is not None else value

    return read


class CsvExportMixin:
    """Streamed CSV export of the changelist's rows (see the module's docstring); put it first on the class line."""

    csv_fields: list[tuple[str, Getter]] = []

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)

    def _csv_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export_csv"

    def get_urls(self):
        view = self.admin_site.admin_view(self.csv_export_view)
        return [path("export.csv", view, name=self._csv_url_name()), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        context = dict(extra_context or {})
        if self.csv_fields and self.has_export_permission(request):
            url = reverse(f"{self.admin_site.name}:{self._csv_url_name()}")
            query = request.GET.urlencode()
            context.setdefault("csv_export_url", f"{url}?{query}" if query else url)
        return super().changelist_view(request, extra_context=context)

    def csv_export_view(self, request):
        if not self.csv_fields or not self.has_export_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest(gettext("Filtres invalides : rien n'a été exporté."))
        queryset = changelist.queryset
        headers = [str(label) for label, _ in self.csv_fields]
        filters = {key: values if len(values) > 1 else values[0] for key, values in request.GET.lists()}
        with transaction.atomic():
            rows = queryset.count()
            action_record(
                actor=request.user,
                action=AnalystAction.Action.EXPORT,
                target=_ExportTarget(self.opts),
                after={
                    "filters": filters,
                    "search": changelist.query,
                    "rows": rows,
                    "columns": headers,
                },
            )
        stamp = timezone.localtime(timezone.now(), DAKAR).strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(self._csv_lines(queryset, headers), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.opts.model_name}-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    def _csv_lines(self, queryset, headers: list[str]) -> Iterator[str]:
        writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
        readers = [_reader(queryset.model, getter) for _, getter in self.csv_fields]
        yield BOM + writer.writerow(headers)
        for obj in queryset.iterator(chunk_size=CHUNK_SIZE):
            yield writer.writerow([cell(read(obj)) for read in readers])
