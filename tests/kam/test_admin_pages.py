"""Every model of KAM's apps in the admin: registered, its pages render, its CSV export works.

One table over the admin registry, so a new model fails here until it has an admin and a maker.
"""

import csv
import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from simple_history.models import HistoricalChanges

from classification import services as classification_services
from classification.models import ClassificationRun, SegmentChange
from tests import factories

pytestmark = pytest.mark.django_db

APPS = ("accounts", "relationships", "classification")


def _scored_run() -> ClassificationRun:
    account = factories.AccountFactory(wallet_estimate=100_000)
    factories.TransactionFactory(account=account, date=dt.date(2026, 10, 1))
    run, _ = classification_services.run_request(
        trigger=ClassificationRun.Trigger.MANUAL,
        reference_date=dt.date(2026, 11, 1),
        dispatch=False,
    )
    classification_services.run_execute(run_id=run.pk)
    return run


def _segment_change():
    result = _scored_run().results.first()
    return SegmentChange.objects.create(
        run=result.run,
        account=result.account,
        model=result.model,
        previous_segment="x",
        segment=result.segment,
    )


MAKERS = {
    "accounts.customer": factories.CustomerFactory,
    "accounts.contact": factories.ContactFactory,
    "accounts.accountmanager": factories.AccountManagerFactory,
    "accounts.account": factories.AccountFactory,
    "accounts.accountteammember": factories.AccountTeamMemberFactory,
    "accounts.productline": factories.ProductLineFactory,
    "accounts.exchangerate": factories.ExchangeRateFactory,
    "accounts.transaction": factories.TransactionFactory,
    "relationships.interaction": factories.InteractionFactory,
    "relationships.customerneed": factories.CustomerNeedFactory,
    "relationships.opportunity": factories.OpportunityFactory,
    "relationships.accountplan": factories.AccountPlanFactory,
    "relationships.planobjective": factories.PlanObjectiveFactory,
    "relationships.planaction": factories.PlanActionFactory,
    "relationships.servicecase": factories.ServiceCaseFactory,
    "relationships.assessment": factories.AssessmentFactory,
    "relationships.relationshipinvestment": factories.RelationshipInvestmentFactory,
    "classification.parameterset": lambda: classification_services.parameter_set_create(
        model="four_s", parameters={}, note="admin page test"
    ),
    "classification.classificationrun": _scored_run,
    "classification.classificationresult": lambda: _scored_run().results.first(),
    "classification.segmentchange": _segment_change,
    "classification.classificationoverride": lambda: classification_services.override_create(
        account=factories.AccountFactory(), model="webster", segment="partnership", reason="test"
    ),
}

# Rows a run writes for itself: shown read-only, never added by hand.
NOT_ADDABLE = {
    "classification.classificationrun",
    "classification.classificationresult",
    "classification.segmentchange",
}


# Not admin pages of their own: a run's chunks show on the run's page, and the pointer from each
# account and model to its latest result is an index the results page reads.
# Internal tables of a run: chunks, the current pointer and the staged metrics (deleted at the end).
NOT_REGISTERED = {
    "classification.classificationchunk",
    "classification.classificationcurrent",
    "classification.classificationchunkmetrics",
}


def _own_models():
    """The apps' models without the audit trail's shadow tables (shown on each History page)."""
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            hidden = model._meta.label_lower in NOT_REGISTERED
            if not hidden and not issubclass(model, HistoricalChanges):
                yield model


def _url(label: str, view: str, *args) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def test_every_model_is_registered_and_has_a_maker_here():
    labels = {model._meta.label_lower for model in _own_models()}
    assert all(admin.site.is_registered(model) for model in _own_models())
    assert labels == set(MAKERS)


@pytest.mark.parametrize("label", sorted(MAKERS))
def test_changelist_add_and_change_pages_render(admin_client, label):
    obj = MAKERS[label]()

    assert admin_client.get(_url(label, "changelist")).status_code == 200
    add = admin_client.get(_url(label, "add"))
    assert add.status_code == (403 if label in NOT_ADDABLE else 200)
    assert admin_client.get(_url(label, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("label", sorted(MAKERS))
def test_csv_export_writes_a_header_and_the_selected_row(admin_client, label):
    obj = MAKERS[label]()

    response = admin_client.post(
        _url(label, "changelist"), {"action": "export_as_csv", "_selected_action": [obj.pk]}
    )

    rows = list(csv.reader(b"".join(response.streaming_content).decode().splitlines()))
    assert len(rows) == 2
    assert len(rows[0]) == len(rows[1]) > 1
