"""OpenAPI defaults: every operation documents its error answers.

Kept apart from kam.api_common: drf-spectacular imports DRF's generic views, which read the
pagination setting that points into kam.api_common.
"""

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.settings import api_settings


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERROR_400 = OpenApiResponse(
    response={
        "type": "object",
        # A body that is not JSON at all (DRF's parse error) has one `detail` message.
        "properties": {"detail": {"type": "string"}},
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description=(
        "Invalid input: a list of messages per field (`non_field_errors` for the rest), or a "
        "`detail` message when the body cannot be read as JSON at all."
    ),
)
ERROR_RESPONSES = {
    "400": ERROR_400,
    "401": OpenApiResponse(ErrorDetailSerializer, description="Not authenticated."),
    "403": OpenApiResponse(ErrorDetailSerializer, description="Not allowed for this caller."),
    "404": OpenApiResponse(
        ErrorDetailSerializer,
        description="Not found, or outside the caller's portfolio (on a list: no such page).",
    ),
    "429": OpenApiResponse(ErrorDetailSerializer, description="Too many requests; retry later."),
}


def _text_pattern(field: serializers.CharField) -> str:
    """What DRF's CharField takes: never a NUL character; unless blank is allowed, at least
    one character that is not whitespace (it trims the value, then finds it blank)."""
    if field.allow_blank or not field.trim_whitespace:
        return r"^[^\u0000]*$"
    return r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class KamAutoSchema(AutoSchema):
    """Every operation documents its error answers: 401, 403 and 429 always, 404 on a path with
    an id, 400 wherever input is read (bodies and list filters)."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403", "429"]
        is_list = self.method == "GET" and self._is_list_view()
        # 404 on a path with an id, and on a paginated list for a page that does not exist.
        if "{" in self.path or (is_list and self._is_a_paginated_list()):
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH") or is_list:
            codes.append("400")
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ERROR_RESPONSES[code], code, direction=direction
                )
        return responses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """Decimals are strings; drf-spectacular's pattern (`^-?\\d{0,8}(?:\\.\\d{0,2})?$`) also
        matches `""`, `"-"` and `"."`, which are no numbers. Require a digit, and no minus sign
        where the field takes no negative value."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and "pattern" in schema:
            whole = field.max_whole_digits
            integer = r"0" if whole == 0 else rf"\d{{1,{whole}}}"
            sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
            schema["pattern"] = rf"^{sign}{integer}(?:\.\d{{1,{field.decimal_places}}})?$"
        elif (
            direction == "request"
            and type(field) in (serializers.CharField, serializers.EmailField)
            and "pattern" not in schema
            and "format" not in schema
            # A RegexValidator documents its own pattern (added after this method).
            and not any(isinstance(v, RegexValidator) for v in field.validators)
        ):
            schema["pattern"] = _text_pattern(field)
        return schema

    def map_parsers(self):
        """The API's request bodies are JSON: form encodings (DRF's defaults, for the browsable
        API) cannot say `null` or an empty list, so documenting them would promise what they
        cannot carry. A view that chose its own parsers (the CSV import) documents those."""
        if list(self.view.parser_classes) != list(api_settings.DEFAULT_PARSER_CLASSES):
            return super().map_parsers()
        forms = (FormParser, MultiPartParser)
        return list(
            dict.fromkeys(
                parser.media_type
                for parser in self.view.get_parsers()
                if not isinstance(parser, forms)
            )
        )

    def _is_a_paginated_list(self) -> bool:
        return self._get_paginator() is not None
