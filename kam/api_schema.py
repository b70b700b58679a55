"""OpenAPI defaults: every operation documents its error answers.

Kept apart from kam.api_common: drf-spectacular imports DRF's generic views, which read the
pagination setting that points into kam.api_common.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


ERROR_400 = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    description="Invalid input: a list of messages per field (`non_field_errors` for the rest).",
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

    def _is_a_paginated_list(self) -> bool:
        return self._get_paginator() is not None
