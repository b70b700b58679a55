"""POST /api/v1/transactions/import/: all-or-nothing, idempotent, every bad row reported exactly."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from accounts import imports as import_service
from accounts.api import imports as import_api
from accounts.imports import MAX_REPORTED_ERRORS, parse_csv, transactions_import
from accounts.imports import rows as import_rows
from accounts.imports import set_based as import_set_based
from accounts.models import Transaction
from tests.api import import_urls
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AdminUserFactory,
    ExchangeRateFactory,
    ProductLineFactory,
    TransactionFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.import_urls")]

URL = "/api/v1/transactions/import/"
HEADER = [
    "account",
    "kind",
    "date",
    "quantity",
    "unit_price",
    "currency",
    "external_reference",
    "product_line",
    "description",
]
INJECTION = (
    "Text may not start with =, +, -, @, a tab or a carriage return: spreadsheets run it as a "
    "formula (CSV injection)."
)


@pytest.fixture
def world():
    """A manager with two accounts, another manager's account, USD at 0.9 from 2020, line PL1."""
    manager = AccountManagerFactory()
    other = AccountManagerFactory()
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2020, 1, 1), rate=Decimal("0.9"))
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2026, 4, 1), rate=Decimal("0.8"))
    return {
        "manager": manager,
        "mine": AccountFactory(owner=manager),
        "mine2": AccountFactory(owner=manager),
        "theirs": AccountFactory(owner=other),
        "line": ProductLineFactory(code="PL1"),
    }


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def csv_bytes(rows: list[dict], header: list[str] = HEADER, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")  # CRLF, like Excel
    writer.writeheader()
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def upload(client: APIClient, content: bytes, source_system: str | None = "erp"):
    data = {"file": SimpleUploadedFile("import.csv", content, content_type="text/csv")}
    if source_system is not None:
        data["source_system"] = source_system
    return client.post(URL, data, format="multipart")


def row(account, ref: str, /, **overrides) -> dict:
    values = {
        "account": str(account.pk),
        "kind": "sale",
        "date": "2026-03-01",
        "quantity": "10",
        "unit_price": "12.5",
        "currency": "EUR",
        "external_reference": ref,
        "product_line": "",
        "description": "",
    }
    values.update(overrides)
    return values


def clean_rows(world) -> list[dict]:
    return [
        row(world["mine"], "R-1", product_line="PL1", description="Pumps"),
        row(world["mine"], "R-2", currency="USD", quantity="3", unit_price="100"),
        row(
            world["mine2"],
            "R-3",
            currency="USD",
            date="2026-04-01",
            quantity="1.5",
            unit_price="10.01",
            kind="return",
        ),
    ]


def test_clean_csv_creates_every_row_with_its_base_amount(world):
    response = upload(client_for(world["manager"].user), csv_bytes(clean_rows(world), bom=True))

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "source_system": "erp",
        "total_rows": 3,
        "created": 3,
        "already_present": 0,
        "already_present_rows": [],
    }
    got = {
        t.external_reference: (
            t.account_id,
            t.kind,
            t.date,
            t.amount,
            t.currency,
            t.amount_base,
            t.product_line_id,
            t.description,
            t.source_system,
        )
        for t in Transaction.objects.all()
    }
    assert got == {
        "R-1": (world["mine"].pk, "sale", dt.date(2026, 3, 1), Decimal("125.00"), "EUR",
                Decimal("125.00"), world["line"].pk, "Pumps", "erp"),
        "R-2": (world["mine"].pk, "sale", dt.date(2026, 3, 1), Decimal("300.00"), "USD",
                Decimal("270.00"), None, "", "erp"),
        # 1.5 x 10.01 = 15.015 -> 15.02; at 0.8 from 2026-04-01: 12.016 -> 12.02
        "R-3": (world["mine2"].pk, "return", dt.date(2026, 4, 1), Decimal("15.02"), "USD",
                Decimal("12.02"), None, "", "erp"),
    }  # fmt: skip


def test_resent_file_creates_nothing_and_reports_every_row_present(world):
    client = client_for(world["manager"].user)
    content = csv_bytes(clean_rows(world))
    assert upload(client, content).status_code == 201

    response = upload(client, content)

    assert response.status_code == 201
    assert response.json() == {
        "source_system": "erp",
        "total_rows": 3,
        "created": 0,
        "already_present": 3,
        "already_present_rows": [2, 3, 4],
    }
    assert Transaction.objects.count() == 3


def test_same_reference_in_another_source_system_is_a_new_transaction(world):
    client = client_for(world["manager"].user)
    content = csv_bytes(clean_rows(world))
    upload(client, content, source_system="erp")

    response = upload(client, content, source_system="shop")

    assert response.json()["created"] == 3
    assert Transaction.objects.count() == 6


def test_json_rows_partly_present(world):
    client = client_for(world["manager"].user)
    TransactionFactory(account=world["mine"], source_system="import", external_reference="J-2")
    rows = [
        {"account": world["mine"].pk, "kind": "sale", "date": "2026-03-01", "quantity": 2,
         "unit_price": "7.25", "currency": "USD", "external_reference": "J-1",
         "amount": "14.50", "unit_cost": "5", "order_reference": "SO-1"},
        {"account": world["mine"].pk, "kind": "sale", "date": "2026-03-01", "quantity": "1",
         "unit_price": "1", "currency": "EUR", "external_reference": "J-2"},
    ]  # fmt: skip

    response = client.post(URL, rows, format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "source_system": "import",
        "total_rows": 2,
        "created": 1,
        "already_present": 1,
        "already_present_rows": [2],
    }
    txn = Transaction.objects.get(external_reference="J-1")
    assert (txn.amount, txn.amount_base, txn.unit_cost, txn.order_reference) == (
        Decimal("14.50"),
        Decimal("13.05"),
        Decimal("5.0000"),
        "SO-1",
    )


def test_json_source_system_from_query_and_bad_shapes(world):
    client = client_for(world["manager"].user)
    good = [row(world["mine"], "Q-1")]
    good[0].pop("product_line")
    good[0].pop("description")
    assert client.post(f"{URL}?source_system=crm", good, format="json").json()["created"] == 1
    assert Transaction.objects.get().source_system == "crm"

    response = client.post(URL, {"rows": []}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": None,
            "field": "non_field_errors",
            "message": "Expected a JSON array of row objects.",
        }
    ]
    response = client.post(URL, [good[0], 5], format="json")
    assert response.json()["errors"] == [
        {"row": 2, "field": "non_field_errors", "message": "Row 2 is not a JSON object."}
    ]
    response = client.post(URL, b"[{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("JSON parse error")


def test_file_with_many_bad_rows_is_rejected_with_every_problem(world):
    client = client_for(world["manager"].user)
    TransactionFactory(account=world["mine"], source_system="erp", external_reference="OLD")
    mine, theirs = world["mine"], world["theirs"]
    rows = [
        row(mine, "R-1"),  # 2: good
        row(mine, "R-2", account="999999"),  # 3
        row(theirs, "R-3"),  # 4: another manager's account looks exactly like a missing one
        row(mine, "R-4", currency="usd"),  # 5
        row(mine, "R-5", currency="GBP"),  # 6: no rate at all
        row(mine, "R-6", currency="USD", date="2019-12-31"),  # 7: before the first rate
        row(mine, "R-7", quantity="-2"),  # 8
        row(mine, "R-8", date="2026-02-30"),  # 9
        row(mine, "R-9", date="01/03/2026"),  # 10
        row(mine, "R-1"),  # 11: duplicate of row 2
        row(mine, "R-10", description='=HYPERLINK("http://evil","x")'),  # 12
        row(mine, "R-11", description="\tcmd"),  # 13
        row(mine, "R-12", unit_price="-1"),  # 14
        row(mine, "R-13", quantity="abc"),  # 15
        row(mine, "R-14", kind="gift"),  # 16
        row(mine, "R-15", product_line="NOPE"),  # 17
        row(mine, "R-16", description="x" * 251),  # 18
        row(mine, "", date="tomorrow", quantity="0"),  # 19: three problems in one row
        row(mine, "OLD"),  # 20: already present, but the file is rejected anyway
        row(mine, "+R-17"),  # 21
    ]
    before = Transaction.objects.count()

    response = upload(client, csv_bytes(rows))

    assert response.status_code == 400
    body = response.json()
    assert Transaction.objects.count() == before
    no_gbp = "No exchange rate for GBP on or before 2026-03-01."
    assert body["errors"] == [
        {"row": 3, "field": "account", "message": "Unknown account 999999."},
        {"row": 4, "field": "account", "message": f"Unknown account {theirs.pk}."},
        {"row": 5, "field": "currency",
         "message": "'usd' is not an ISO 4217 currency code in capitals, e.g. EUR."},
        {"row": 6, "field": "currency", "message": no_gbp},
        {"row": 7, "field": "currency",
         "message": "No exchange rate for USD on or before 2019-12-31."},
        {"row": 8, "field": "quantity",
         "message": "Must be greater than zero; use a return or credit note."},
        {"row": 9, "field": "date",
         "message": "'2026-02-30' is not a date in the form YYYY-MM-DD."},
        {"row": 10, "field": "date",
         "message": "'01/03/2026' is not a date in the form YYYY-MM-DD."},
        {"row": 11, "field": "external_reference",
         "message": "Duplicate external reference 'R-1' (first in row 2)."},
        {"row": 12, "field": "description", "message": INJECTION},
        {"row": 13, "field": "description", "message": INJECTION},
        {"row": 14, "field": "unit_price", "message": "May not be negative."},
        {"row": 15, "field": "quantity", "message": "'abc' is not a number."},
        {"row": 16, "field": "kind",
         "message": "Unknown kind 'gift'. Expected one of: sale, purchase, return, credit_note."},
        {"row": 17, "field": "product_line", "message": "Unknown product line 'NOPE'."},
        {"row": 18, "field": "description", "message": "At most 250 characters (this has 251)."},
        {"row": 19, "field": "date",
         "message": "'tomorrow' is not a date in the form YYYY-MM-DD."},
        {"row": 19, "field": "quantity",
         "message": "Must be greater than zero; use a return or credit note."},
        {"row": 19, "field": "external_reference", "message": "This field is required."},
        {"row": 21, "field": "external_reference", "message": INJECTION},
    ]  # fmt: skip
    assert body["error_count"] == 20
    assert body["total_rows"] == 20
    assert body["detail"] == "The import was rejected (20 errors); nothing was written."


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", " =1+1"])
@pytest.mark.parametrize("column", ["description", "product_code", "order_reference"])
def test_csv_injection_is_rejected_in_every_text_column(world, column, text):
    header = [*HEADER, "product_code", "order_reference"]
    content = csv_bytes([row(world["mine"], "R-1", **{column: text})], header)

    response = upload(client_for(world["manager"].user), content)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": 2, "field": column, "message": INJECTION}]
    assert not Transaction.objects.exists()


def test_amount_must_match_quantity_times_price(world):
    rows = [
        row(world["mine"], "A-1", quantity="3", unit_price="0.335", amount="1.01"),  # 1.005: ok
        row(world["mine"], "A-2", quantity="3", unit_price="0.335", amount="1.02"),
    ]
    content = csv_bytes(rows, [*HEADER, "amount"])

    response = upload(client_for(world["manager"].user), content)

    assert response.json()["errors"] == [
        {"row": 3, "field": "amount", "message": "Amount must equal quantity x unit price (1.01)."}
    ]


def test_missing_column_is_one_file_level_error(world):
    header = [c for c in HEADER if c != "currency"]
    content = csv_bytes([row(world["mine"], f"R-{i}") for i in range(5)], header)

    response = upload(client_for(world["manager"].user), content)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": None, "field": "currency", "message": "Missing column 'currency'."}
    ]
    assert not Transaction.objects.exists()


def test_header_only_file_still_checks_columns_and_unknown_columns_are_errors(world):
    response = upload(client_for(world["manager"].user), b"account,kind,date,colour\n")

    assert response.status_code == 400
    fields = [(e["row"], e["field"]) for e in response.json()["errors"]]
    assert fields == [
        (None, "quantity"),
        (None, "unit_price"),
        (None, "currency"),
        (None, "external_reference"),
        (None, "colour"),
    ]


def test_wrong_encoding_is_one_clear_error(world):
    good = csv_bytes([row(world["mine"], "R-1")])
    latin1 = row(world["mine"], "R-2", description="Müller GmbH")
    bad_line = ",".join(latin1[c] for c in HEADER).encode("latin-1") + b"\n"
    position = len(good) + bad_line.index(b"\xfc")

    response = upload(client_for(world["manager"].user), good + bad_line)

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": None,
            "field": "file",
            "message": f"The file is not UTF-8 text (byte 0xfc at position {position}). "
            "Save it as CSV UTF-8 and send it again.",
        }
    ]
    assert not Transaction.objects.exists()


def test_ragged_and_empty_files(world):
    client = client_for(world["manager"].user)
    content = csv_bytes([row(world["mine"], "R-1")]) + b"1,2\n"
    assert upload(client, content).json()["errors"] == [
        {"row": 3, "field": "row", "message": "Row 3 has 2 cells but the header has 9."}
    ]
    assert upload(client, b"").json()["errors"] == [
        {
            "row": None,
            "field": "file",
            "message": "The file is empty: expected a header row and data rows.",
        }
    ]
    no_file = client.post(URL, {"source_system": "erp"}, format="multipart")
    assert no_file.json()["errors"] == [
        {"row": None, "field": "file", "message": "Attach the CSV file in the form field 'file'."}
    ]


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024)  # the upload streams to a temp file
def test_ten_thousand_rows_with_only_the_last_bad_writes_nothing(world):
    rows = [row(world["mine"], f"R-{i}") for i in range(9999)]
    rows.append(row(world["mine"], "R-last", currency="XXX"))

    response = upload(client_for(world["manager"].user), csv_bytes(rows))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 10001,
            "field": "currency",
            "message": "No exchange rate for XXX on or before 2026-03-01.",
        }
    ]
    assert response.json()["total_rows"] == 10000
    assert not Transaction.objects.exists()


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024)
def test_ten_thousand_clean_rows_are_written(world):
    rows = [row(world["mine"], f"R-{i}", currency="USD") for i in range(10000)]

    response = upload(client_for(world["manager"].user), csv_bytes(rows))

    assert response.status_code == 201
    assert response.json()["created"] == 10000
    assert Transaction.objects.filter(amount_base=Decimal("112.50")).count() == 10000


def test_listed_errors_are_capped_but_counted(world):
    rows = [row(world["mine"], f"R-{i}", quantity="0") for i in range(MAX_REPORTED_ERRORS + 500)]

    response = upload(client_for(world["manager"].user), csv_bytes(rows))

    body = response.json()
    assert len(body["errors"]) == MAX_REPORTED_ERRORS
    assert body["error_count"] == MAX_REPORTED_ERRORS + 500
    assert body["errors"][-1]["row"] == MAX_REPORTED_ERRORS + 1


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_json_body_over_the_upload_limit_is_413(world):
    rows = [row(world["mine"], f"R-{i}") for i in range(20)]

    response = client_for(world["manager"].user).post(URL, rows, format="json")

    assert response.status_code == 413
    assert response.json()["detail"].startswith("A JSON import may be at most 1000 bytes")


def test_file_over_the_size_limit_is_413(world, monkeypatch):
    monkeypatch.setattr(import_api, "MAX_IMPORT_FILE_SIZE", 100)
    monkeypatch.setattr(import_api, "MULTIPART_OVERHEAD", 0)

    response = upload(client_for(world["manager"].user), csv_bytes(clean_rows(world)))

    assert response.status_code == 413
    assert response.json() == {"detail": "An import file may be at most 100 bytes."}


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("no_profile", 403), ("manager", 201), ("admin", 201)],
)
def test_permissions(world, who, status):
    user = {
        "anonymous": None,
        "no_profile": UserFactory(),
        "manager": world["manager"].user,
        "admin": AdminUserFactory(),
    }[who]

    response = upload(client_for(user), csv_bytes(clean_rows(world)))

    assert response.status_code == status
    assert Transaction.objects.count() == (3 if status == 201 else 0)


def test_admin_may_import_into_any_account(world):
    rows = [row(world["theirs"], "T-1")]

    response = upload(client_for(AdminUserFactory()), csv_bytes(rows))

    assert response.status_code == 201
    assert Transaction.objects.get().account == world["theirs"]


def test_service_without_postgresql_copy_uses_bulk_create(world, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    content = csv_bytes(clean_rows(world))

    first = transactions_import(user=world["manager"].user, rows=parse_csv(io.BytesIO(content)))
    again = transactions_import(user=world["manager"].user, rows=parse_csv(io.BytesIO(content)))

    assert (first.created, again.created, again.already_present) == (3, 0, 3)
    assert sorted(Transaction.objects.values_list("amount_base", flat=True)) == [
        Decimal("12.02"),
        Decimal("125.00"),
        Decimal("270.00"),
    ]


def test_spooled_text_survives_copy_quoting(world):
    """Commas, quotes, line breaks and backslashes reach the database unchanged."""
    text = 'He said "a, b"\nthen \\N and \\. ok\r\nand a\rlone CR'
    content = csv_bytes([row(world["mine"], "R-1", description=text)])

    response = upload(client_for(world["manager"].user), content)

    assert response.status_code == 201
    assert Transaction.objects.get().description == text
    assert import_service.MAX_IMPORT_FILE_SIZE == 200 * 1024 * 1024


def test_schema_documents_the_import():
    generator = SchemaGenerator(patterns=import_urls.urlpatterns)
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)

    operation = schema["paths"][URL]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert set(operation["responses"]) >= {"201", "400", "401", "403", "413", "429"}
    assert {
        "TransactionImportReport",
        "TransactionImportError",
        "TransactionImportRejection",
    } <= set(schema["components"]["schemas"])


def test_duplicate_header_column_is_a_file_error(world):
    content = csv_bytes([row(world["mine"], "R-1")], [*HEADER, "kind"])

    response = upload(client_for(world["manager"].user), content)

    assert response.json()["errors"] == [
        {
            "row": None,
            "field": "kind",
            "message": "Column 'kind' appears more than once in the header.",
        }
    ]


def test_blank_lines_are_counted_in_row_numbers_but_not_imported(world):
    first = csv_bytes([row(world["mine"], "R-1")])
    bad = csv_bytes([row(world["mine"], "R-2", kind="gift")]).split(b"\r\n", 1)[1]

    response = upload(client_for(world["manager"].user), first + b"\r\n" + bad)

    assert response.json()["errors"] == [
        {
            "row": 4,
            "field": "kind",
            "message": "Unknown kind 'gift'. Expected one of: sale, purchase, return, credit_note.",
        }
    ]
    assert response.json()["total_rows"] == 2


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024)
def test_duplicates_far_apart_in_a_large_file_are_found_after_the_copy(world):
    rows = [row(world["mine"], f"R-{i}") for i in range(10000)]
    rows[7000]["external_reference"] = "R-5"  # row 7002; R-5 is first in row 7
    rows[9999]["external_reference"] = "R-5"  # row 10001

    response = upload(client_for(world["manager"].user), csv_bytes(rows))

    assert response.status_code == 400
    message = "Duplicate external reference 'R-5' (first in row 7)."
    assert response.json()["errors"] == [
        {"row": 7002, "field": "external_reference", "message": message},
        {"row": 10001, "field": "external_reference", "message": message},
    ]
    assert response.json()["error_count"] == 2
    assert not Transaction.objects.exists()


def test_duplicates_found_in_sql_merge_into_the_errors_like_the_in_memory_check(world, monkeypatch):
    mine = world["mine"]
    rows = [
        row(mine, "R-A"),  # 2
        row(mine, "R-B", quantity="0"),  # 3: bad, yet the first R-B
        row(mine, "R-B", kind="gift", currency="GBP"),  # 4: a cell, the duplicate, the rate
        row(mine, "R-A"),  # 5
    ]
    for i in range(MAX_REPORTED_ERRORS + 200):  # past the cap: the merge keeps the first 1000
        rows.append(row(mine, "R-A") if i % 2 else row(mine, f"X-{i}", quantity="0"))
    content = csv_bytes(rows)
    user = world["manager"].user

    in_sql = transactions_import(user=user, rows=parse_csv(io.BytesIO(content)))
    monkeypatch.setattr(connection, "vendor", "sqlite")
    in_memory = transactions_import(user=user, rows=parse_csv(io.BytesIO(content)))

    assert [(e.row, e.field) for e in in_sql.errors[:5]] == [
        (3, "quantity"),
        (4, "kind"),
        (4, "external_reference"),
        (4, "currency"),
        (5, "external_reference"),
    ]
    assert in_sql.errors[2].message == "Duplicate external reference 'R-B' (first in row 3)."
    assert in_sql.errors == in_memory.errors
    assert in_sql.error_count == in_memory.error_count == 1 + 3 + 1 + MAX_REPORTED_ERRORS + 200
    assert not Transaction.objects.exists()


def count_row_by_row_checks(monkeypatch) -> list[int]:
    """Row numbers that went through the per-row checks (`_validate_row`)."""
    checked: list[int] = []
    validate = import_rows._validate_row

    def counting(number, *args):
        checked.append(number)
        return validate(number, *args)

    # Both paths call it: the row-by-row service and the set-based path's re-check.
    monkeypatch.setattr(import_service, "_validate_row", counting)
    monkeypatch.setattr(import_set_based, "_validate_row", counting)
    return checked


def test_clean_csv_is_checked_in_sql_and_written_with_its_history(world, monkeypatch):
    checked = count_row_by_row_checks(monkeypatch)
    content = csv_bytes(clean_rows(world))

    response = upload(client_for(world["manager"].user), content)

    assert response.status_code == 201, response.json()
    assert checked == []  # no row needed the per-row checks
    history = Transaction.history.filter(history_change_reason="import: erp")
    assert sorted(history.values_list("external_reference", "history_type", "history_user")) == [
        ("R-1", "+", world["manager"].user.pk),
        ("R-2", "+", world["manager"].user.pk),
        ("R-3", "+", world["manager"].user.pk),
    ]


def test_values_the_sql_does_not_accept_outright_are_checked_per_row(world, monkeypatch):
    """Unusual but valid spellings pass the per-row checks and are written as those read them."""
    checked = count_row_by_row_checks(monkeypatch)
    header = [*HEADER, "amount", "unit_cost"]
    rows = [
        row(world["mine"], "R-1", quantity="1E+1", unit_price="12.5000"),  # 2: exponent
        row(world["mine"], "R-2", date="2024-02-29", amount="125", unit_cost="1_0"),  # 3
        row(world["mine"], "R-3", quantity="+.5", currency="USD", date="2026-03-31"),  # 4
    ]

    response = upload(client_for(world["manager"].user), csv_bytes(rows, header))

    assert response.status_code == 201, response.json()
    assert checked == [2, 3, 4]
    got = dict(Transaction.objects.values_list("external_reference", "amount"))
    assert got == {"R-1": Decimal("125.00"), "R-2": Decimal("125.00"), "R-3": Decimal("6.25")}
    assert Transaction.objects.get(external_reference="R-2").unit_cost == Decimal("10")
    assert Transaction.history.count() == 3


def test_a_date_before_1900_is_refused_as_everywhere_else(world):
    rows = [row(world["mine"], "R-1", date="1899-12-31"), row(world["mine"], "R-2")]

    response = upload(client_for(world["manager"].user), csv_bytes(rows, HEADER))

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert [(e["row"], e["field"], e["message"]) for e in errors] == [
        (2, "date", "Enter a date on or after 1900-01-01.")
    ]
    assert not Transaction.objects.exists()


def test_csv_the_two_readers_could_split_differently_is_read_row_by_row(world, monkeypatch):
    """A quote inside an unquoted cell is text for Python's csv module (COPY would start a quoted
    part there): such a file is read row by row, and the text is kept."""
    checked = count_row_by_row_checks(monkeypatch)
    content = csv_bytes(clean_rows(world)).replace(b"Pumps", b'5" pumps')

    response = upload(client_for(world["manager"].user), content)

    assert response.status_code == 201, response.json()
    assert checked == [2, 3, 4]
    assert Transaction.objects.get(external_reference="R-1").description == '5" pumps'


@pytest.mark.parametrize("header_extra", [[], ["amount", "unit_cost", "product_code"]])
def test_set_based_checks_report_exactly_what_the_row_by_row_checks_report(
    world, header_extra, monkeypatch
):
    mine, theirs = world["mine"], world["theirs"]
    variants = [
        {},
        {"account": "999999"},
        {"account": f" {theirs.pk}"},
        {"account": "\uff11\uff12"},  # full-width digits
        {"kind": "Sale"},
        {"date": "2026-02-29"},
        {"date": "0000-01-01"},
        {"date": "1899-12-31"},
        {"date": "1900-01-01"},
        {"date": " 2026-01-31 "},
        {"date": "2026-1-31"},
        {"date": "2026-13-01"},
        {"date": "2024-02-29"},
        {"date": "2026-04-31"},
        {"date": "2026-12-31"},
        {"quantity": "1.2.3"},
        {"quantity": "."},
        {"quantity": "5."},
        {"unit_price": ".5"},
        {"quantity": "0"},
        {"quantity": "1.2345"},
        {"quantity": "1.2000"},
        {"quantity": "1e400"},
        {"quantity": "NaN"},
        {"quantity": "100000000000"},
        {"unit_price": "-0"},
        {"unit_price": "1000000000000"},
        {"currency": "GBP"},
        {"currency": "USD", "date": "2019-12-31"},
        {"currency": ""},
        {"external_reference": ""},
        {"external_reference": "@x"},
        {"external_reference": "D-1"},
        {"external_reference": "x" * 101},
        {"product_line": "PL1 "},
        {"product_line": "pl1"},
        {"description": "-x"},
        {"amount": "125.01"},
        {"amount": "125.006"},
        {"amount": "125.007"},
        {"amount": "abc"},
        {"unit_cost": "-1"},
        {"unit_cost": "1.23456"},
        {"product_code": "x" * 51},
        {"quantity": "99999999999", "unit_price": "999999"},
    ]
    rows = [row(mine, f"R-{i}", **variants[i % len(variants)]) for i in range(2400)]
    header = [*HEADER, *header_extra]
    content = csv_bytes(rows, header)
    user = world["manager"].user

    checked = count_row_by_row_checks(monkeypatch)
    set_based = transactions_import(user=user, rows=parse_csv(io.BytesIO(content)))
    assert 0 < len(checked) < len(rows)  # the clean rows were checked in SQL only
    monkeypatch.setattr(import_service, "_import_csv_set_based", lambda *a, **k: None)
    row_by_row = transactions_import(user=user, rows=parse_csv(io.BytesIO(content)))
    assert set_based.error_count > MAX_REPORTED_ERRORS
    assert (set_based.errors, set_based.error_count, set_based.total_rows) == (
        row_by_row.errors,
        row_by_row.error_count,
        row_by_row.total_rows,
    )
    assert not Transaction.objects.exists()


# --- the write: a plain INSERT, again with ON CONFLICT DO NOTHING after a concurrent import -----


def _commit_elsewhere(account, source_system: str, reference: str) -> None:
    """Insert a transaction and commit it on a second connection (a concurrent import)."""
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_transaction (created_at, updated_at, account_id, kind, "
                "date, product_code, description, quantity, unit_price, amount, currency, "
                "amount_base, order_reference, source_system, external_reference) VALUES "
                "(now(), now(), %s, 'sale', '2026-03-01', '', '', 1, 1, 1, 'EUR', 1, '', %s, %s)",
                [account.pk, source_system, reference],
            )
        other.commit()
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["csv (set-based)", "json (row by row)"])
def test_a_reference_a_concurrent_import_commits_meanwhile_is_skipped_not_duplicated(world, path):
    """Between the check of the present rows and the write, another import commits R-2: the
    plain INSERT fails on the unique index and runs again with ON CONFLICT DO NOTHING, in the same
    transaction. R-2 stays theirs (no history of ours), the rest is created with its history."""
    user = world["manager"].user
    rows = clean_rows(world)
    source = parse_csv(io.BytesIO(csv_bytes(rows))) if path.startswith("csv") else rows
    writes: list[str] = []

    def concurrent_import_commits_first(execute, sql, params, many, context):
        if sql.startswith("WITH written AS (INSERT"):
            if not writes:
                _commit_elsewhere(world["mine"], "erp", "R-2")
            writes.append("ON CONFLICT DO NOTHING" in sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(concurrent_import_commits_first):
        report = transactions_import(user=user, rows=source, source_system="erp")

    assert writes == [False, True]  # the plain INSERT, then the one that skips conflicts
    assert (report.ok, report.created, report.already_present) == (True, 2, 1)
    assert sorted(Transaction.objects.values_list("external_reference", flat=True)) == [
        "R-1",
        "R-2",
        "R-3",
    ]
    history = Transaction.history.filter(history_change_reason="import: erp")
    assert sorted(history.values_list("external_reference", "history_user")) == [
        ("R-1", user.pk),
        ("R-3", user.pk),
    ]


def test_a_file_partly_present_writes_only_the_new_rows_with_their_history(world):
    """The set-based path skips the rows imported before (ON CONFLICT DO NOTHING)."""
    client = client_for(world["manager"].user)
    first, *rest = clean_rows(world)
    upload(client, csv_bytes([first]))

    response = upload(client, csv_bytes([first, *rest]))

    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["already_present_rows"]) == (2, [2])
    assert Transaction.objects.count() == 3
    history = Transaction.history.filter(history_change_reason="import: erp")
    assert sorted(history.values_list("external_reference", flat=True)) == ["R-1", "R-2", "R-3"]


def test_a_resent_file_is_checked_by_index_probes_whatever_the_statistics(world):
    """Right after an import, PostgreSQL's statistics have not seen its rows (about one row for
    the source system). A join against the transactions table planned on that estimate compared
    every row of a re-sent file with every row stored: a re-sent file of 100,000 rows took 170 s
    (issue 6). The statements that meet rows already present probe the unique index per row
    (a subplan) or skip them on conflict; neither joins the table."""
    client = client_for(world["manager"].user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_transaction")  # statistics without the rows below
    content = csv_bytes(clean_rows(world))
    assert upload(client, content).status_code == 201
    plans = {}

    def explain(execute, sql, params, many, context):
        if "external_reference" in sql and sql.startswith(("SELECT t.", "WITH written")):
            context["cursor"].execute(f"EXPLAIN {sql}", params)
            plans[sql.split()[0]] = "\n".join(row[0] for row in context["cursor"].fetchall())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        response = upload(client, content)

    assert response.json()["already_present"] == 3
    presence, insert = plans["SELECT"].splitlines(), plans["WITH"]
    subplan = next((i for i, line in enumerate(presence) if "SubPlan" in line), None)
    assert subplan is not None, plans["SELECT"]
    stored = [i for i, line in enumerate(presence) if " on accounts_transaction " in line]
    assert stored, plans["SELECT"]
    assert min(stored) > subplan, plans["SELECT"]  # read in the subplan only, never joined
    assert "Conflict Resolution: NOTHING" in insert, insert
    assert " on accounts_transaction " not in insert.replace("Insert on", ""), insert
