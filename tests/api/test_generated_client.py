"""A client generated from the OpenAPI schema works: `openapi-python-client` builds a Python
package from the schema the application serves, and that package, unchanged but for one line,
drives a real server (`live_server`, committed data) as a sales lead would (docs/api.md).

- The schema comes from `manage.py spectacular` in process (the generator behind
  `/api/schema/`), validated, failing on any drf-spectacular warning; the client generator runs
  with `--fail-on-warning`, so a schema part it cannot read fails the test instead of being
  skipped.
- The one line: openapi-python-client 0.29.1 picks the body of an operation that takes two
  content types with `isinstance(body, list[Row])`, which Python refuses (TypeError), so the JSON
  import could not be sent at all. The schema is right (a JSON array or a CSV upload); the
  generator's config runs a post-hook that makes it `isinstance(body, list)` (CLIENT_CONFIG, the
  same as in docs/api.md), and the test asserts the hook had something to fix.
- Responses are parsed by the generated models, which raise on a missing field; the test also
  asserts that no object carries a field the schema does not declare (`additional_properties`).
- Generated once per session (about 4 s), imported under a name of its own.
"""

import datetime as dt
import importlib
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from django.core.management import call_command

from accounts.models import Account, Transaction
from classification import services as classification_services
from classification.models import ClassificationResult, ClassificationRun
from tests.factories import AccountFactory, TransactionFactory

PACKAGE = "kam_client"  # as in docs/api.md
PASSWORD = "pass-word-123"  # tests.factories.UserFactory
# The generator's config: no ruff/black post-hooks (not needed to run the code), and the fix for
# `isinstance(body, list[...])` in operations with two request content types.
CLIENT_CONFIG = """\
post_hooks:
  - perl -pi -e 's/isinstance\\(body, list\\[\\w+\\]\\)/isinstance(body, list)/' api/*/*.py
"""
DOCS_SECTION = "## A generated Python client"
DOCS_SERVER = "http://127.0.0.1:8000"
DOCS_PASSWORD = "kam-demo-2026"


def _generator() -> str:
    """The `openapi-python-client` script of the interpreter running the tests."""
    return str(Path(sys.executable).with_name("openapi-python-client"))


@pytest.fixture(scope="session")
def kam_client(tmp_path_factory):
    """The generated client package, imported (generated once per session)."""
    root = tmp_path_factory.mktemp("generated_client")
    schema_path = root / "kam-schema.yaml"
    call_command("spectacular", file=str(schema_path), validate=True, fail_on_warn=True)
    (root / "client-config.yaml").write_text(CLIENT_CONFIG)
    package = root / PACKAGE
    command = [
        _generator(),
        "generate",
        "--path",
        str(schema_path),
        "--output-path",
        str(package),
        "--meta",
        "none",
        "--config",
        str(root / "client-config.yaml"),
        "--fail-on-warning",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    # The post-hook fixed the check the generator got wrong, and left no other like it.
    import_module = (package / "api" / "transactions" / "transactions_import.py").read_text()
    assert "isinstance(body, list):" in import_module
    generated = "\n".join(path.read_text() for path in package.rglob("*.py"))
    assert "isinstance(body, list[" not in generated
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _op(client_package, module: str):
    """One generated operation module, e.g. `accounts.accounts_list`."""
    return importlib.import_module(f"{client_package.__name__}.api.{module}")


def _model(client_package, name: str):
    return getattr(importlib.import_module(f"{client_package.__name__}.models"), name)


def _no_undeclared_fields(obj) -> None:
    """Every field of a parsed object (and of the objects inside it) is in the schema."""
    if isinstance(obj, list):
        for item in obj:
            _no_undeclared_fields(item)
        return
    if not attrs.has(type(obj)):
        return
    declared = [f.name for f in attrs.fields(type(obj)) if f.name != "additional_properties"]
    # Free-form maps (axes, explanations) are declared as such; only models with fields count.
    if declared:
        assert obj.additional_properties == {}, (type(obj).__name__, obj.additional_properties)
    for name in declared:
        _no_undeclared_fields(getattr(obj, name))


@pytest.fixture
def lead_portfolio(world):
    """The lead's team (nam1, nam2) with six accounts of very different revenue, classified by
    a population run: the 4S segments differ between them."""
    today = dt.date.today()
    for i, (owner, units) in enumerate(
        [("nam1", 1), ("nam1", 50), ("nam1", 400), ("nam2", 5), ("nam2", 2000), ("nam2", 90)]
    ):
        account = AccountFactory(owner=world.managers[owner], country="DE" if i < 3 else "FR")
        world.accounts[f"team{i}"] = account
        for months in range(1, 12, 2):
            TransactionFactory(
                account=account,
                date=today - dt.timedelta(days=30 * months),
                quantity=Decimal(units * (i + 1)),
            )
    run, _ = classification_services.run_request(
        trigger=ClassificationRun.Trigger.MANUAL, dispatch=False
    )
    classification_services.run_execute(run_id=run.pk)
    return world


def test_a_generated_client_drives_the_api(kam_client, live_server, lead_portfolio):
    world = lead_portfolio
    anonymous = kam_client.Client(base_url=live_server.url, raise_on_unexpected_status=True)

    # 1. A token for username and password, through the generated auth operation.
    token_op = _op(kam_client, "auth.auth_token_create")
    login = _model(kam_client, "AuthTokenRequestRequest")
    wrong = token_op.sync_detailed(client=anonymous, body=login(username="lead", password="x"))
    assert wrong.status_code == 400
    assert isinstance(wrong.parsed, _model(kam_client, "AuthTokenCreateResponse400"))
    messages = wrong.parsed.additional_properties  # {"password": ["Unable to log in ..."]}
    assert messages, wrong.content
    assert all(isinstance(m, str) for field in messages.values() for m in field)
    answer = token_op.sync_detailed(
        client=anonymous, body=login(username="lead", password=PASSWORD)
    )
    assert answer.status_code == 200, answer.content
    token = answer.parsed.token
    assert len(token) == 40
    client = kam_client.AuthenticatedClient(
        base_url=live_server.url, token=token, prefix="Token", raise_on_unexpected_status=True
    )

    # 2. The team's accounts by 4S segment: exactly the lead's accounts in that segment.
    visible = set(
        Account.objects.filter(owner__reports_to=world.managers["lead"]).values_list(
            "pk", flat=True
        )
    )
    current = dict(
        ClassificationResult.objects.current()
        .filter(model="four_s", account_id__in=visible)
        .values_list("account_id", "segment")
    )
    assert set(current) == visible
    assert len(set(current.values())) >= 2, current  # the filter has something to tell apart
    list_op = _op(kam_client, "accounts.accounts_list")
    segment_enum = _model(kam_client, "AccountsListSegmentFourS")
    page_type = _model(kam_client, "PaginatedAccountApiList")
    for segment in segment_enum:
        page = list_op.sync(client=client, segment_four_s=segment, page_size=200)
        assert isinstance(page, page_type), page
        _no_undeclared_fields(page)
        expected = {pk for pk, s in current.items() if s == segment.value}
        assert page.count == len(expected)
        assert {row.id for row in page.results} == expected
        for row in page.results:
            assert row.classification.four_s.segment == segment.value
            assert row.owner in {world.managers["nam1"].pk, world.managers["nam2"].pk}

    # 3. Import transactions as JSON rows: they land, and a re-sent import writes nothing.
    import_op = _op(kam_client, "transactions.transactions_import")
    row_type = _model(kam_client, "TransactionImportRowRequest")
    kind = _model(kam_client, "TransactionKindEnum")
    account = world.accounts["team0"]
    rows = [
        row_type(
            account=str(account.pk),
            kind=kind.SALE,
            date=dt.date(2026, 10, day),
            quantity=f"{day}",
            unit_price="25.50",
            currency="EUR",
            external_reference=f"ERP-{day}",
        )
        for day in (1, 2, 3)
    ]
    report = import_op.sync_detailed(client=client, body=rows, source_system="erp")
    assert report.status_code == 201, report.content
    _no_undeclared_fields(report.parsed)
    assert (report.parsed.total_rows, report.parsed.created) == (3, 3)
    landed = Transaction.objects.filter(source_system="erp").order_by("external_reference")
    assert [
        (t.account_id, t.date, t.quantity, t.unit_price, t.amount, t.external_reference)
        for t in landed
    ] == [
        (account.pk, dt.date(2026, 10, d), d, Decimal("25.50"), Decimal("25.50") * d, f"ERP-{d}")
        for d in (1, 2, 3)
    ]
    again = import_op.sync(client=client, body=rows, source_system="erp")
    assert (again.created, again.already_present) == (0, 3)
    assert Transaction.objects.filter(source_system="erp").count() == 3

    # The CSV upload, the operation's other content type, works through the same function.
    upload = _model(kam_client, "TransactionImportUploadRequest")
    file_type = importlib.import_module(f"{kam_client.__name__}.types").File
    csv_text = (
        "account,kind,date,quantity,unit_price,currency,external_reference\r\n"
        f"{account.pk},sale,2026-10-04,2,10.00,EUR,ERP-4\r\n"
    )
    uploaded = import_op.sync(
        client=client,
        body=upload(
            file=file_type(payload=csv_text.encode(), file_name="sales.csv", mime_type="text/csv"),
            source_system="erp",
        ),
    )
    assert (uploaded.total_rows, uploaded.created) == (1, 1), uploaded
    assert Transaction.objects.get(source_system="erp", external_reference="ERP-4").amount == 20

    # 4. An account's scores: the current result under each model, as stored.
    scores = _op(kam_client, "accounts.accounts_scores_retrieve").sync(client=client, id=account.pk)
    assert scores.account == account.pk
    _no_undeclared_fields(scores)
    stored = {
        r.model: r.segment for r in ClassificationResult.objects.current().filter(account=account)
    }
    assert {row.model: row.segment for row in scores.current} == stored
    assert {row.model for row in scores.current} == {
        "webster",
        "millman_wilson",
        "bensaou",
        "four_s",
    }

    # Outside the portfolio: 404, parsed as the documented error.
    hidden = _op(kam_client, "accounts.accounts_scores_retrieve").sync_detailed(
        client=client, id=world.accounts["out"].pk
    )
    assert hidden.status_code == 404
    assert hidden.parsed.detail

    # 5. The Python example of docs/api.md runs as written (on this server, with this password).
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    example = re.search(r"```python\n(.*?)```", docs.split(DOCS_SECTION, 1)[1], re.DOTALL)
    code = example.group(1)
    for written, here in [(DOCS_SERVER, live_server.url), (DOCS_PASSWORD, PASSWORD)]:
        assert written in code
        code = code.replace(written, here)
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102
    first = namespace["strategic"].results[0]
    assert namespace["strategic"].count == list(current.values()).count("strategic")
    assert (namespace["report"].created, namespace["scores"].account) == (1, first.id)
    assert Transaction.objects.get(external_reference="ERP-90001").account_id == first.id
