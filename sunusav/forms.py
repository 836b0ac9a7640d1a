"""Number fields typed the way people write them: "0,85" and "0.85" are 0.85, "1 000 000" is a million.

Used by the back-office's own forms ("Try the models", `backoffice.forms`)
and by every admin edit form (`sunusav.admin_utils.FrenchTitlesMixin` puts
them in place of Django's number fields, whose `type=number` inputs and
parsing read "0,85" the English way).
"""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Spaces a person or a locale puts between thousands: space, no-break space, narrow no-break space, thin space.
GROUPING_SPACES = re.compile(r"[ \u00a0\u202f\u2009]")


def number_from_text(text: str) -> str:
    """Return a typed number in Python's notation: "0,85" -> "0.85", "1 000,5" -> "1000.5", "1,000.5" -> "1000.5".

    Spaces group thousands. With one kind of separator only, a comma is the
    decimal comma (the back-office is French first: "0,85" is never 85) and a
    dot the decimal point; with both, the last one is the decimal separator
    and the other groups thousands.
    """
    text = GROUPING_SPACES.sub("", str(text).strip())
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        text = text.replace(grouping, "").replace(decimal, ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    return text


class LocalizedFloatField(forms.FloatField):
    """A number typed with a decimal comma or point, shown the page's way ("0,9" in French)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = number_from_text(value)
        return super().to_python(value)


class LocalizedIntegerField(forms.IntegerField):
    """A whole number typed with or without grouping spaces ("1 000 000"); "5,000" is refused as ambiguous.

    In French "5,000" is five, in English five thousand: rather than guess on
    an amount, the field asks for "5000" or "5 000". "5,0" and "5.0" are 5.
    """

    default_error_messages = {
        "ambiguous": _(
            "Nombre ambigu : écrivez-le sans virgule ni point, les milliers groupés par des espaces (5 000)."
        ),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "numeric")

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = GROUPING_SPACES.sub("", value.strip())
            match = re.fullmatch(r"([+-]?\d+)(?:[.,](\d+))?", value)
            if match and match.group(2) is not None:
                if len(match.group(2)) == 3 or set(match.group(2)) != {"0"}:
                    code = "ambiguous" if len(match.group(2)) == 3 else "invalid"
                    raise ValidationError(self.error_messages[code], code=code)
                value = match.group(1)
        return super().to_python(value)


class LocalizedDecimalField(forms.DecimalField):
    """A decimal typed with a decimal comma or point ("0,85"), shown the page's way."""

    def __init__(self, **kwargs):
        kwargs.setdefault("localize", True)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")

    def to_python(self, value):
        if isinstance(value, str) and value.strip():
            value = number_from_text(value)
            try:
                Decimal(value)
            except InvalidOperation:
                raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        return super().to_python(value)
