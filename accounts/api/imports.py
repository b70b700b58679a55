"""POST /api/v1/transactions/import/: bulk import of transactions (JSON rows or a CSV upload).

A thin interface over `accounts.imports.transactions_import`, which decides everything else.
Limits: a CSV upload may be at most `MAX_IMPORT_FILE_SIZE` bytes (streamed to disk by Django beyond
FILE_UPLOAD_MAX_MEMORY_SIZE, then read as a stream); a JSON body at most
DATA_UPLOAD_MAX_MEMORY_SIZE bytes, because it is parsed whole; send big imports as CSV.
"""

import io

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.imports import (
    MAX_IMPORT_FILE_SIZE,
    ImportFileError,
    ImportReport,
    parse_csv,
    parse_json_rows,
    transactions_import,
)
from accounts.models import AccountManager, TransactionKind

MULTIPART_OVERHEAD = 64 * 1024  # room for the form fields and boundaries around the file


class ImportTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The import is too large."
    default_code = "too_large"


class TransactionImportJSONParser(JSONParser):
    """JSONParser that reads at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (DRF itself does not)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise ImportTooLarge(
                    f"A JSON import may be at most {limit} bytes; send larger imports as a CSV "
                    "file (multipart/form-data, field 'file')."
                )
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)


class IsManagerOrAdmin(permissions.BasePermission):
    """Imports attach to the caller's portfolio, so the caller needs one (or is a superuser)."""

    message = "Only account managers and administrators may import transactions."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return user.is_superuser or AccountManager.objects.filter(user_id=user.pk).exists()


class TransactionImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV, UTF-8 (a byte-order mark is allowed), first row the column names: "
        "account, kind, date, quantity, unit_price, currency, external_reference, and "
        "optionally product_line, product_code, description, unit_cost, order_reference, amount."
    )
    source_system = serializers.CharField(
        required=False, default="import", help_text="Scope of the external references."
    )


class TransactionImportRowSerializer(serializers.Serializer):
    account = serializers.CharField(help_text="Account id (must be in your portfolio).")
    kind = serializers.ChoiceField(choices=TransactionKind.choices)
    date = serializers.DateField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, coerce_to_string=True)
    unit_price = serializers.DecimalField(max_digits=16, decimal_places=4, coerce_to_string=True)
    currency = serializers.CharField(min_length=3, max_length=3)
    external_reference = serializers.CharField(max_length=100)
    product_line = serializers.CharField(required=False, help_text="Product line code.")
    product_code = serializers.CharField(required=False, max_length=50)
    description = serializers.CharField(required=False, max_length=250)
    unit_cost = serializers.DecimalField(
        max_digits=16, decimal_places=4, required=False, coerce_to_string=True
    )
    order_reference = serializers.CharField(required=False, max_length=100)
    amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        required=False,
        coerce_to_string=True,
        help_text="If given, must equal quantity x unit_price within half a cent.",
    )


class TransactionImportReportSerializer(serializers.Serializer):
    source_system = serializers.CharField()
    total_rows = serializers.IntegerField()
    created = serializers.IntegerField()
    already_present = serializers.IntegerField(
        help_text="Rows whose external reference was imported before; not written again."
    )
    already_present_rows = serializers.ListField(
        child=serializers.IntegerField(), help_text="Their row numbers (at most 1000)."
    )


class TransactionImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(
        allow_null=True,
        help_text="JSON: position from 1. CSV: row in the file, the header being row 1. "
        "Null for an error about the whole file (encoding, a missing column).",
    )
    field = serializers.CharField()
    message = serializers.CharField()


class TransactionImportRejectionSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = TransactionImportErrorSerializer(many=True, help_text="At most 1000 are listed.")
    error_count = serializers.IntegerField(help_text="All errors, listed or not.")
    total_rows = serializers.IntegerField()


class TransactionImportDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def _rejection(report: ImportReport) -> Response:
    body = {
        "detail": f"The import was rejected ({report.error_count} "
        f"{'error' if report.error_count == 1 else 'errors'}); nothing was written.",
        "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in report.errors],
        "error_count": report.error_count,
        "total_rows": report.total_rows,
    }
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _file_error(message: str, field: str = "file", row: int | None = None) -> Response:
    report = ImportReport(source_system="")
    report.add_error(row, field, message)
    return _rejection(report)


class TransactionImportApi(APIView):
    parser_classes = [TransactionImportJSONParser, MultiPartParser]
    permission_classes = [permissions.IsAuthenticated, IsManagerOrAdmin]

    def initial(self, request: Request, *args, **kwargs) -> None:
        # Refuse an oversized upload from its Content-Length, before anything reads the body.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_IMPORT_FILE_SIZE + MULTIPART_OVERHEAD:
            raise ImportTooLarge(f"An import file may be at most {MAX_IMPORT_FILE_SIZE} bytes.")
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="transactions_import",
        summary="Import transactions (all or nothing, idempotent by external reference)",
        description=(
            "Send a CSV file (multipart/form-data, field `file`, optional `source_system`) or a "
            "JSON array of row objects (`source_system` as a query parameter). Every row is "
            "checked first; if any is bad nothing is written and the answer lists every bad row "
            "(at most 1000, with the full count). Rows whose (source_system, external_reference) "
            "was imported before are reported as already present and not written again. "
            f"CSV files may be up to {MAX_IMPORT_FILE_SIZE // (1024 * 1024)} MB; JSON bodies up "
            "to the server's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default)."
        ),
        tags=["transactions"],
        parameters=[
            OpenApiParameter(
                "source_system",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="For JSON imports: the scope of the external references "
                "(default `import`).",
            )
        ],
        request={
            "multipart/form-data": TransactionImportUploadSerializer,
            "application/json": TransactionImportRowSerializer(many=True),
        },
        responses={
            201: OpenApiResponse(
                TransactionImportReportSerializer,
                description="Accepted: new rows written, re-sent rows reported.",
            ),
            400: OpenApiResponse(
                TransactionImportRejectionSerializer,
                description="Rejected: nothing was written.",
                examples=[
                    OpenApiExample(
                        "Bad rows",
                        value={
                            "detail": "The import was rejected (2 errors); nothing was written.",
                            "errors": [
                                {"row": 3, "field": "account", "message": "Unknown account 99."},
                                {
                                    "row": 7,
                                    "field": "currency",
                                    "message": "No exchange rate for USD on or before 2019-12-31.",
                                },
                            ],
                            "error_count": 2,
                            "total_rows": 10,
                        },
                    )
                ],
            ),
            401: OpenApiResponse(
                TransactionImportDetailSerializer, description="Not authenticated."
            ),
            403: OpenApiResponse(
                TransactionImportDetailSerializer, description="Not a manager or administrator."
            ),
            413: OpenApiResponse(TransactionImportDetailSerializer, description="Too large."),
            429: OpenApiResponse(TransactionImportDetailSerializer, description="Throttled."),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except RequestDataTooBig:
            raise ImportTooLarge(
                f"A JSON import may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; send "
                "larger imports as a CSV file (multipart/form-data, field 'file')."
            ) from None
        except exceptions.ParseError as exc:
            return _file_error(str(exc.detail), field="non_field_errors")
        if request.content_type.startswith("multipart/"):
            upload = request.FILES.get("file")
            if upload is None:
                return _file_error("Attach the CSV file in the form field 'file'.")
            if upload.size > MAX_IMPORT_FILE_SIZE:
                raise ImportTooLarge(f"An import file may be at most {MAX_IMPORT_FILE_SIZE} bytes.")
            source_system = data.get("source_system", "import")
            rows = parse_csv(upload)
        else:
            source_system = request.query_params.get("source_system", "import")
            try:
                rows = parse_json_rows(data)
            except ImportFileError as exc:
                return _file_error(exc.message, field=exc.field, row=exc.row)
        report = transactions_import(user=request.user, rows=rows, source_system=source_system)
        if not report.ok:
            return _rejection(report)
        body = TransactionImportReportSerializer(report).data
        return Response(body, status=status.HTTP_201_CREATED)
