"""Template filters of the back-office pages: numbers, durations and codes the page language's way.

`{% load backoffice_format %}` then `{{ value|num }}` ("7 371", "0,968"),
`{{ value|num:3 }}` (three decimals), `{{ share|percent }}`, `{{ us|duration_us }}`
("1,27 s"), `{{ code|label:"feature" }}`, `{{ name|model_label }}` ("crédit"),
`{{ count|count_noun:opts }}` ("0 alerte IA", "2 alertes IA"), `{{ label|pair:value }}`
("PR-AUC : 0,93" in French, "PR-AUC: 0.93" in English).
"""

from django import template

from sunusav import presenters

register = template.Library()


@register.filter
def num(value, decimals=None):
    """Return a number with grouped thousands in the page's language (`decimals` fixed if given)."""
    if value in ("", None):
        return "—"
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    return presenters.number_text(value, decimals=None if decimals in (None, "") else int(decimals))


@register.filter
def percent(share, decimals=1):
    """Return a share in [0, 1] as "12,5 %"."""
    return presenters.percent_text(share, decimals=int(decimals))


@register.filter
def duration_us(value):
    """Return microseconds readably: "850 µs", "12,3 ms", "1,27 s"."""
    return presenters.duration_us_text(value)


@register.filter
def label(code, kind):
    """Return a code's registered label (features, metric keys, stages, fraud patterns)."""
    return presenters.label_of(kind, code)


@register.filter
def model_label(name):
    """Return a model's name as pages say it: "crédit", "fraude"."""
    return presenters.model_label(name)


@register.filter
def count_noun(count, opts):
    """Return "<count> <verbose name>" with the page language's plural rule (French: 0 and 1 singular)."""
    noun = opts.verbose_name if presenters.plural_is_singular(count) else opts.verbose_name_plural
    return f"{presenters.number_text(count)} {noun}"


@register.filter
def pair(label, value):
    """Return "label : value" with the page language's punctuation."""
    return presenters.label_value(label, value)


@register.filter
def plural_n(count):
    """The count to give `{% blocktranslate count %}` so French takes the singular for 0 and 1.

    Without a French catalogue, gettext's fallback rule is English's (singular only for 1):
    `{% blocktranslate count k=n|plural_n with n=n %}{{ n }} élément{% plural %}{{ n }} éléments{% endblocktranslate %}`.
    """
    try:
        n = int(count)
    except (TypeError, ValueError):
        return count
    return 1 if presenters.plural_is_singular(n) else 2
