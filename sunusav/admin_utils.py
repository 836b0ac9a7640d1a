"""Admin helpers: French page titles and filters, paginators for big tables, read-only pages, confirmed bulk actions."""

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection, models
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.text import capfirst

from sunusav.forms import LocalizedDecimalField, LocalizedFloatField, LocalizedIntegerField


class FrenchTitlesMixin:
    """Page titles that read well in French, whatever the model's gender or first letter.

    Django builds its titles by pasting the verbose name into a sentence
    ("Affichage de %s", "Sélectionnez l'objet %s à afficher"), which gives
    "Affichage de alerte IA". A list is titled by its plural ("Alertes IA")
    and an object's page by its verbose name ("Alerte IA", the object below
    as the subtitle); `object_subtitle` may say the object better than its `__str__`.
    """

    def object_subtitle(self, obj) -> str | None:
        return None  # Django's own: str(obj)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # Number inputs the French way: "0,85" is 0.85 (never 85 or an error), "2 000" is 2000, and a
        # decimal is shown "0,85" rather than "0.85" (sunusav.forms); text inputs, not type=number.
        form_class = None
        for model_field, localized in _LOCALIZED_NUMBER_FIELDS.items():
            if isinstance(db_field, model_field) and not db_field.choices:
                form_class = localized
                break
        if form_class is not None and "widget" not in kwargs:
            kwargs.setdefault("form_class", form_class)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def changelist_view(self, request, extra_context=None):
        context = {"title": capfirst(self.opts.verbose_name_plural), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["title"] = capfirst(self.opts.verbose_name)
            context["subtitle"] = self.object_subtitle(obj) or context.get("subtitle")
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


# Model number fields -> the form fields that read numbers the way people type them (the first match wins).
_LOCALIZED_NUMBER_FIELDS = {
    models.DecimalField: LocalizedDecimalField,
    models.FloatField: LocalizedFloatField,
    models.IntegerField: LocalizedIntegerField,  # and its Big, Small and Positive kinds
}


class ReadableFieldsMixin:
    """On a read-only object page, show some fields through display methods (`{field: method name}`).

    Django shows a number field of a read-only page as it is ("7371"): the
    project's pages group thousands ("7 371 sats (4 423 XOF)") through the
    admin's display method named here; someone who may edit still gets the field.
    """

    readable_fields: dict[str, str] = {}

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and self.readable_fields and not self.has_change_permission(request, obj):
            fields = [self.readable_fields.get(f, f) for f in fields]
        return fields


def titled_filter(base, title):
    """Return the field list filter `base` under another title: Django writes "Par <title>".

    A filter is titled by its field's verbose name, which may read badly after
    "Par" ("Par par", "Par créée le"): `("created_at", titled_filter(admin.DateFieldListFilter, _("date")))`.
    """

    def __init__(self, *args, **kwargs):
        base.__init__(self, *args, **kwargs)
        self.title = title

    return type(f"Titled{base.__name__}", (base,), {"__init__": __init__})


class CappedCountPaginator(Paginator):
    """A paginator that never runs an exact COUNT(*) over a huge table.

    On PostgreSQL an unfiltered count uses the planner's estimate; filtered
    counts stop at `cap` so the changelist stays fast on millions of rows.
    """

    cap = 10_000

    @cached_property
    def count(self):
        query = self.object_list.query
        if connection.vendor == "postgresql" and not query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [query.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row and row[0] > self.cap:
                return int(row[0])
        return self.object_list[: self.cap + 1].count()


class ReadOnlyAdminMixin:
    """Nobody adds, changes or deletes through this admin: rows come from the product's own actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ConfirmedBulkAction:
    """One capped bulk action with a confirmation page: pick at most `cap` rows, confirm with a form, apply.

    Both work queues use it (resolving alerts, reviewing held payments). The
    rows an analyst ticked are taken as ticked, whatever the list's filters
    say now (a row someone else acted on meanwhile must be reported, not
    silently dropped); "select all" takes the filtered queryset. More than
    `cap` rows is a mistake (a select-all over the whole queue): refused with
    a message, nothing done. The page lists the rows (`columns`, and a
    `cells(row)` per row), then the form; a valid POST calls `apply`.
    """

    template = "admin/bulk_action_confirmation.html"

    def __init__(self, *, name: str, cap: int, too_many: str, form_class, columns: list, form_css: str):
        self.name = name
        self.cap = cap
        self.too_many = too_many
        self.form_class = form_class
        self.columns = columns
        self.form_css = form_css

    def selection(self, modeladmin, request, queryset, *, ticked_from, order_by: tuple[str, ...]) -> list | None:
        """Return the rows to act on, or None (and an error message) past the cap."""
        ticked = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if ticked and request.POST.get("select_across") not in ("1", "True", "on"):
            queryset = ticked_from.filter(pk__in=ticked)
        try:
            rows = list(queryset.order_by(*order_by)[: self.cap + 1])
        except ValidationError:  # a forged, malformed id
            return []
        if len(rows) > self.cap:
            modeladmin.message_user(request, self.too_many % {"max": self.cap}, messages.ERROR)
            return None
        return rows

    def confirm(
        self,
        modeladmin,
        request,
        rows: list,
        *,
        cells,
        apply,
        title: str,
        intro: str = "",
        submit: str,
        form_kwargs: dict | None = None,
    ):
        """Apply the confirmed form (`apply(rows, cleaned_data)` returns the response), else show the page."""
        form_kwargs = form_kwargs or {}
        if "apply" in request.POST:
            form = self.form_class(request.POST, **form_kwargs)
            if form.is_valid():
                return apply(rows, form.cleaned_data)
        else:
            form = self.form_class(**form_kwargs)
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "intro": intro,
            "opts": modeladmin.opts,
            "columns": self.columns,
            "rows": [{"pk": row.pk, "cells": cells(row)} for row in rows],
            "form": form,
            "form_css": self.form_css,
            "submit": submit,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": self.name,
            "media": modeladmin.media,
        }
        request.current_app = modeladmin.admin_site.name
        return TemplateResponse(request, self.template, context)
