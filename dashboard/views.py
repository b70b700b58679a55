"""Dashboard pages: thin views over dashboard.selectors / services and the shared selectors."""

import csv
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    F,
    IntegerField,
    Prefetch,
    Q,
    Sum,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.db.models.expressions import RowRange
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Account, Contact
from accounts.selectors import accounts_visible_to
from classification.models import SEGMENTS, ClassificationRun, KamModel
from classification.selectors import current_classifications
from classification.services import (
    QUEUE_UNAVAILABLE,
    BrokerUnavailable,
    override_create,
    recompute_account_now,
    run_request,
)
from kam.admin_csv import csv_safe
from relationships.models import (
    AccountPlan,
    Assessment,
    CustomerNeed,
    Opportunity,
    PlanAction,
    PlanObjective,
    ServiceCase,
)
from relationships.selectors import portfolio_revenue, portfolio_summary
from relationships.services import (
    assessment_create,
    customer_need_create,
    opportunity_create,
    opportunity_stage_move,
    plan_action_create,
    plan_action_mark_done,
    plan_objective_create,
)
from relationships.services import interaction_create as interaction_create_service

from .explain import MODEL_AXES, explanation_rows, flag_label
from .explain import segment_name as segment_label
from .forms import (
    AccountFilterForm,
    ActionForm,
    AssessmentForm,
    DoneForm,
    InteractionForm,
    MatrixFilterForm,
    NeedForm,
    ObjectiveForm,
    OpportunityForm,
    OverrideForm,
    StageForm,
)
from .matrices import matrix_chart
from .selectors import (
    HISTORY_RUNS,
    AccountClassification,
    HistoryRun,
    account_classification,
    account_list,
    account_revenue_by_month,
    account_timeline_and_contacts,
    account_with_family,
    families_of,
    global_families,
    matrix_chart_points,
    matrix_results,
    matrix_rows,
    matrix_segment_counts,
    matrix_table,
    model_parameters,
    owners_selectable_by,
    portfolio_alerts,
    portfolio_countries,
    team_overview,
)

PAGE_SIZE = 25
MATRIX_PAGE_SIZE = 50
FAMILIES_PAGE_SIZE = 20
TRANSACTIONS_PAGE_SIZE = 15
TIMELINE_SIZE = 10
CSV_ID_BATCH = 500
MODELS = [m for m, _ in KamModel.choices]


def _filter_form(request: HttpRequest, visible, countries: list[str] | None = None):
    """The accounts filter; a page that already knows the portfolio's countries passes them."""
    if countries is None:
        countries = portfolio_countries(user=request.user, visible=visible)
    return AccountFilterForm(
        request.GET or None, countries=countries, owners=owners_selectable_by(user=request.user)
    )


def _segment_distribution(segments: dict[str, dict[str, int]]) -> list[dict]:
    """Per model: every segment with its count and share, in the model's own order."""
    models = []
    for model, label in KamModel.choices:
        counts = segments.get(model, {})
        total = sum(counts.values())
        rows = [
            {
                "segment": s,
                "label": segment_label(s),
                "count": counts.get(s, 0),
                "percent": round(100 * counts.get(s, 0) / total) if total else 0,
            }
            for s in SEGMENTS[model]
        ]
        models.append({"model": model, "label": label, "total": total, "segments": rows})
    return models


@require_GET
@login_required
def portfolio(request: HttpRequest) -> HttpResponse:
    visible = accounts_visible_to(request.user)  # resolved once for the page's own reads
    # The alerts count the overdue actions per account; the summary's own count would repeat it.
    # The revenue, which reads every transaction of 24 months, follows in a request of its own
    # (`portfolio_revenue_kpi`, loaded by htmx), so the page shows at once; without JavaScript
    # `?sections=all` has it on the page.
    revenue_inline = request.GET.get("sections") == "all"
    summary = portfolio_summary(
        user=request.user, visible=visible, count_overdue=False, with_revenue=revenue_inline
    )
    alerts = portfolio_alerts(user=request.user, visible=visible)
    summary["overdue_actions"] = alerts["overdue_total"]
    form = _filter_form(request, visible, countries=summary["countries"])
    filters = form.filters() if form.is_bound else {}
    has_filters = any(v for k, v in filters.items() if k != "sort")
    paginator = Paginator(
        account_list(user=request.user, filters=filters, visible=visible), PAGE_SIZE
    )
    if not has_filters:
        # Unfiltered, the list is the whole visible portfolio the summary has just counted.
        paginator.count = summary["accounts"]["total"]
    page = paginator.get_page(request.GET.get("page"))
    classes = current_classifications(account_ids=[a.pk for a in page.object_list])
    rows = [{"account": a, "segments": classes.get(a.pk, {})} for a in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    can_run = can_run_portfolio(request.user)
    return render(
        request,
        "dashboard/portfolio.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "models": KamModel.choices,
            "summary": summary,
            "distribution": _segment_distribution(summary["segments"]),
            "query": query.urlencode(),
            "has_filters": has_filters,
            "alerts": alerts,
            "can_run": can_run,
            "active_run": _active_portfolio_run() if can_run else None,
        },
    )


@require_GET
@login_required
def portfolio_revenue_kpi(request: HttpRequest) -> HttpResponse:
    """The portfolio page's revenue figure, which the page loads after showing itself."""
    return render(
        request,
        "dashboard/partials/revenue_kpi.html",
        {
            "revenue": portfolio_revenue(user=request.user),
            "currency": settings.KAM_BASE_CURRENCY,
        },
    )


CSV_HEADER = ["Customer", "Level", "Country", "Status", "Key account", "Owner"]


@require_GET
@login_required
def portfolio_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The accounts of the table, all pages, with the same filters and order."""
    visible = accounts_visible_to(request.user)
    form = _filter_form(request, visible)
    filters = form.filters() if form.is_bound else {}
    accounts = account_list(user=request.user, filters=filters, visible=visible)

    def rows():
        header = [*CSV_HEADER, "Revenue 12 months", *[label for _, label in KamModel.choices]]
        yield header
        batch: list[Account] = []
        for account in accounts.iterator(chunk_size=CSV_ID_BATCH):
            batch.append(account)
            if len(batch) == CSV_ID_BATCH:
                yield from _csv_rows(batch)
                batch = []
        yield from _csv_rows(batch)

    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([csv_safe(v) for v in row]) for row in rows()),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="portfolio-{stamp}.csv"'
    return response


def _csv_rows(batch: list[Account]):
    if not batch:
        return
    classes = current_classifications(account_ids=[a.pk for a in batch])
    for a in batch:
        segments = classes.get(a.pk, {})
        yield [
            a.customer.name,
            a.get_level_display(),
            a.country,
            a.get_status_display(),
            a.is_key_account,
            str(a.owner),
            # Two decimals on every database (SQLite's sum drops them: 1000 instead of 1000.00).
            "" if a.revenue_12m is None else f"{a.revenue_12m:.2f}",
            *[
                segment_label(segments[m]["segment"]) if segments.get(m, {}).get("segment") else ""
                for m in MODELS
            ],
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _visible_account(request: HttpRequest, pk: int) -> Account:
    return get_object_or_404(
        accounts_visible_to(request.user).select_related(
            "customer", "owner__user", "parent__customer"
        ),
        pk=pk,
    )


def _account_contacts(request: HttpRequest, account: Account):
    """The active contacts of an account the caller has been checked to see. Its customer's
    contacts are visible through it (what `contacts_visible_to` allows), so no second
    resolution of the visible portfolio."""
    return Contact.objects.filter(customer_id=account.customer_id, is_active=True)


def _interaction_form(contacts, fetched: list[Contact]) -> InteractionForm:
    """The empty interaction form offering contacts already fetched: no query again to render
    it (`contacts`, the queryset, validates a submission)."""
    form = InteractionForm(contacts=contacts)
    field = form.fields["contacts"]
    field.choices = [(c.pk, field.label_from_instance(c)) for c in fetched]
    return form


@dataclass(frozen=True)
class RowsPage:
    """A page of rows without a total: one row more than the page is read to know of a next
    page, so no COUNT over the account's (possibly many thousand) transactions."""

    rows: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


MAX_PAGE = 100_000  # an absurd page number must not overflow the database's OFFSET


def _page_number(raw_number) -> int:
    try:
        return min(max(1, int(raw_number or 1)), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def _rows_page(queryset, raw_number, size: int) -> RowsPage:
    number = _page_number(raw_number)
    start = (number - 1) * size
    rows = list(queryset[start : start + size + 1])
    return RowsPage(rows=rows[:size], number=number, has_next=len(rows) > size)


PAST_PAGE_SIZE = 5  # closed or past rows of a section shown at a time, latest first
CURRENT_PAGE_SIZE = 50  # open rows shown at a time: all of them on any usual account


@dataclass(frozen=True)
class SectionPage(RowsPage):
    """A page of a section's open, or closed and past, rows and how many there are in all (None
    when the page is beyond the end and nothing came back to tell)."""

    total: int | None = None
    size: int = PAST_PAGE_SIZE

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1

    @property
    def num_pages(self) -> int | None:
        return None if self.total is None else -(-self.total // self.size)


def _current_and_past(
    queryset,
    *,
    past: Q,
    current_order: list,
    past_order: list,
    raw_number,
    raw_current_number=None,
    size=PAST_PAGE_SIZE,
    current_size=CURRENT_PAGE_SIZE,
) -> tuple[SectionPage, SectionPage]:
    """A page of a section's current rows (what the manager works on: all of them on any usual
    account, `current_size` at a time on an unusual one) and a page of its past ones, latest
    first, each with its count: one query whatever the section's size. A running count per side
    numbers the rows of each side 1, 2, … and leaves the other side's at 0; a count over all
    rows totals each side (window functions: no second query)."""
    number = _page_number(raw_number)
    start = (number - 1) * size
    current_number = _page_number(raw_current_number)
    current_start = (current_number - 1) * current_size
    is_past = Case(When(past, then=Value(1)), default=Value(0), output_field=IntegerField())
    is_current = Value(1) - is_past
    rows = list(
        queryset.annotate(
            past_position=Window(
                Sum(is_past),
                partition_by=[is_past],
                order_by=past_order,
                frame=RowRange(start=None, end=0),
            ),
            current_position=Window(
                Sum(is_current),
                partition_by=[is_past],
                order_by=current_order,
                frame=RowRange(start=None, end=0),
            ),
            past_total=Window(Sum(is_past)),
            current_total=Window(Sum(is_current)),
        )
        .filter(
            past_position__in=[0, *range(start + 1, start + size + 1)],
            current_position__in=[0, *range(current_start + 1, current_start + current_size + 1)],
        )
        .order_by("past_position", *current_order)
    )

    def page(side_rows: list, page_number: int, total: int | None, page_size: int) -> SectionPage:
        return SectionPage(
            rows=side_rows,
            number=page_number,
            has_next=total is not None and total > page_number * page_size,
            total=total,
            size=page_size,
        )

    first_pages = number == 1 and current_number == 1
    totals = (rows[0].current_total, rows[0].past_total) if rows else (None, None)
    if not rows and first_pages:
        totals = (0, 0)
    return (
        page([r for r in rows if not r.past_position], current_number, totals[0], current_size),
        page([r for r in rows if r.past_position], number, totals[1], size),
    )


def _classifications(found: AccountClassification) -> list[dict]:
    results, overrides = found.results, found.overrides
    cards = []
    for model, label in KamModel.choices:
        result = results.get(model)
        override = overrides.get(model)
        axes = [
            {"name": name, "value": result.axes.get(key)}
            for key, name in MODEL_AXES[model]
            if result and key in result.axes
        ]
        cards.append(
            {
                "model": model,
                "label": label,
                "result": result,
                "segment": segment_label(result.segment) if result else None,
                "override": override and {**override, "label": segment_label(override["segment"])},
                "axes": axes,
                "flags": [
                    {"code": f, "text": flag_label(f)} for f in (result.flags if result else [])
                ],
                "explanation": explanation_rows(result.explanation, model) if result else [],
            }
        )
    return cards


# Each model's segments from the lowest rung to the highest: the history chart's y axes.
HISTORY_LADDER: dict[str, tuple[str, ...]] = {
    "webster": SEGMENTS["webster"],
    "millman_wilson": ("uncoupling_kam", *SEGMENTS["millman_wilson"][:-1]),
    "bensaou": SEGMENTS["bensaou"],
    "four_s": tuple(reversed(SEGMENTS["four_s"])),
}


def _history(runs: list[HistoryRun]) -> dict:
    """The segment under each model in the account's last runs: chart data and table rows."""

    def label(run, model: str) -> str | None:
        segment = run.segments.get(model)
        return segment_label(segment) if segment else None

    chart = {
        "runs": [{"run": r.run_id, "date": r.reference_date.isoformat()} for r in runs],
        "models": [
            {
                "model": model,
                "label": name,
                "segments": [segment_label(s) for s in HISTORY_LADDER[model]],
                "data": [label(r, model) for r in runs],
            }
            for model, name in KamModel.choices
        ],
    }
    rows = [
        {"run": r, "cells": [label(r, model) or "—" for model in MODELS]} for r in reversed(runs)
    ]
    return {"history_chart": chart, "history_rows": rows, "history_limit": HISTORY_RUNS}


@require_GET
@login_required
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account, family = account_with_family(user=request.user, pk=pk)
    if account is None:
        raise Http404("No such account.")
    return render(
        request, "dashboard/account_detail.html", _account_context(request, account, family=family)
    )


def _account_context(
    request: HttpRequest, account: Account, form=None, forms=None, family=None
) -> dict:
    """The whole account page; `forms` replaces the empty forms of a section (after an error).
    `family`, when the caller has read it with the account, saves a query."""
    forms = forms or {}
    today = timezone.localdate()
    root_id = account.parent_id or (account.pk if account.level == "global" else None)
    if family is None:
        family = []
        if root_id:
            family = list(
                accounts_visible_to(request.user)
                .filter(Q(pk=root_id) | Q(parent_id=root_id))
                .select_related("customer", "owner__user")
                .order_by("level", "country")
            )
    timeline, contacts = account_timeline_and_contacts(account=account, size=TIMELINE_SIZE)
    by_function: dict[str, list[Contact]] = defaultdict(list)
    seniority_rank = {s: i for i, (s, _) in enumerate(reversed(Contact.Seniority.choices))}
    for contact in sorted(contacts, key=lambda c: (seniority_rank.get(c.seniority, 9), c.name)):
        by_function[contact.get_function_display()].append(contact)
    transactions = _rows_page(
        account.transactions.select_related("product_line"),
        request.GET.get("tx_page"),
        TRANSACTIONS_PAGE_SIZE,
    )
    context = {
        "account": account,
        "currency": settings.KAM_BASE_CURRENCY,
        "today": today,
        "family": family,
        "team": account.team_members.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today), start_date__lte=today
        ).select_related("manager__user"),
        "contacts_by_function": sorted(by_function.items()),
        "contact_count": len(contacts),
        "revenue": {
            **account_revenue_by_month(account=account, reference_date=today).as_chart_data(),
            "currency": settings.KAM_BASE_CURRENCY,
        },
        "transactions": transactions,
        "timeline": timeline,
        "form": form or _interaction_form(_account_contacts(request, account), contacts),
        # The secondary sections come with the page when asked for (no JavaScript) or when one
        # of their forms has errors to show; else the page loads them right after (htmx).
        "more_inline": bool(request.GET.get("sections") == "all" or forms.keys() & MORE_FORMS),
    }
    for name, (_template, build) in SECTIONS.items():
        if name not in MORE_SECTIONS or context["more_inline"]:
            context |= build(request, account, forms)
    if context["more_inline"]:
        context |= _more_extras(request, account)
    return context


@require_GET
@login_required
def account_more(request: HttpRequest, pk: int) -> HttpResponse:
    """The account page's secondary sections (assessment, investments, needs, service cases),
    which the page loads with htmx once it is shown: they keep the page itself in 15 queries."""
    account = _visible_account(request, pk)
    context = {
        "account": account,
        "currency": settings.KAM_BASE_CURRENCY,
        "today": timezone.localdate(),
    }
    for name in MORE_SECTIONS:
        context |= SECTIONS[name][1](request, account, {})
    return render(
        request, "dashboard/partials/account_more.html", context | _more_extras(request, account)
    )


def _more_extras(request: HttpRequest, account: Account) -> dict:
    """The read-only secondary sections. Investments: the running ones, CURRENT_PAGE_SIZE at a
    time (all of them on any usual account); the ended ones a page at a time, the latest ended
    first. Service cases: the open and in-progress ones the same way; the resolved and closed
    ones a page at a time, the latest closed first."""
    investments, past = _current_and_past(
        account.investments.all(),
        past=Q(end_date__lt=timezone.localdate()),
        current_order=["-start_date", "-id"],
        past_order=[F("end_date").desc(), F("id").desc()],
        raw_number=request.GET.get("inv_page"),
        raw_current_number=request.GET.get("inv_open_page"),
    )
    service_cases, past_cases = _current_and_past(
        account.service_cases.all(),
        past=Q(status__in=[ServiceCase.Status.RESOLVED, ServiceCase.Status.CLOSED]),
        current_order=["-opened_at", "-id"],
        past_order=[F("closed_at").desc(nulls_last=True), F("opened_at").desc(), F("id").desc()],
        raw_number=request.GET.get("cases_page"),
        raw_current_number=request.GET.get("cases_open_page"),
    )
    return {
        "investments": investments.rows,
        "running_investments": investments,
        "past_investments": past,
        "service_cases": service_cases.rows,
        "open_service_cases": service_cases,
        "past_service_cases": past_cases,
    }


@require_POST
@login_required
def interaction_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Log an interaction. With htmx the panel (form + timeline) is swapped in place."""
    account = _visible_account(request, pk)
    form = InteractionForm(request.POST, contacts=_account_contacts(request, account))
    saved = False
    if form.is_valid():
        try:
            interaction_create_service(account=account, author=request.user, **form.cleaned_data)
            saved = True
        except ValidationError as exc:
            _add_service_errors(form, exc)
    if not request.htmx:
        if saved:
            return redirect("dashboard:account", pk=account.pk)
        return render(
            request, "dashboard/account_detail.html", _account_context(request, account, form)
        )
    timeline, contacts = account_timeline_and_contacts(account=account, size=TIMELINE_SIZE)
    if saved:
        form = _interaction_form(_account_contacts(request, account), contacts)
    return render(
        request,
        "dashboard/partials/interactions.html",
        {"account": account, "form": form, "timeline": timeline, "saved": saved},
    )


def _add_service_errors(form, exc: ValidationError) -> None:
    """A service's validation error goes to its field when the form has it, else on top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, messages in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


# --- account page sections: each one a fragment the page includes and a write swaps ----------


def _needs_section(request: HttpRequest, account: Account, forms: dict) -> dict:
    """The needs still open or in progress, CURRENT_PAGE_SIZE at a time; the met or dropped
    ones a page at a time."""
    needs, past = _current_and_past(
        account.needs.all(),
        past=Q(status__in=[CustomerNeed.Status.MET, CustomerNeed.Status.DROPPED]),
        current_order=["-identified_on", "-id"],
        past_order=[F("identified_on").desc(), F("id").desc()],
        raw_number=request.GET.get("needs_page"),
        raw_current_number=request.GET.get("needs_open_page"),
    )
    return {
        "needs": needs.rows,
        "open_needs": needs,
        "past_needs": past,
        "need_form": forms.get("need_form") or NeedForm(),
    }


# The stage a "Move" offers first: the next one along the pipeline, never a step back.
NEXT_STAGE = dict(
    zip(
        Opportunity.OPEN_STAGES,
        [*Opportunity.OPEN_STAGES[1:], Opportunity.Stage.WON],
        strict=True,
    )
)


def _opportunities_section(request: HttpRequest, account: Account, forms: dict) -> dict:
    """The open deals, CURRENT_PAGE_SIZE at a time; the won and lost ones a page at a time, the
    latest closed (last changed) first, so a deal just moved to Won or Lost tops the list."""
    opportunities, closed = _current_and_past(
        account.opportunities.select_related("owner__user"),
        past=~Q(stage__in=Opportunity.OPEN_STAGES),
        current_order=["expected_close", "id"],
        past_order=[
            F("updated_at").desc(),
            F("expected_close").desc(nulls_last=True),
            F("id").desc(),
        ],
        raw_number=request.GET.get("opp_page"),
        raw_current_number=request.GET.get("opp_open_page"),
    )
    for o in opportunities.rows:
        o.next_stage = NEXT_STAGE.get(o.stage)
    target = forms.get("stage_target")
    shown = {o.pk for o in [*opportunities.rows, *closed.rows]}
    return {
        "opportunities": opportunities.rows,
        "open_opportunities": opportunities,
        "closed_opportunities": closed,
        "opportunity_form": forms.get("opportunity_form")
        or OpportunityForm(currency=settings.KAM_BASE_CURRENCY),
        "stage_choices": Opportunity.Stage.choices,
        "stage_form": forms.get("stage_form"),
        "stage_target": target,
        # A failed move of a deal not on this page (closed meanwhile): its error goes on top.
        "stage_error_elsewhere": target is not None and target not in shown,
    }


def _plans_section(request: HttpRequest, account: Account, forms: dict) -> dict:
    """The draft and active plans with every objective and action, CURRENT_PAGE_SIZE at a time;
    the closed plans a page at a time, the latest first."""
    plans, past = _current_and_past(
        account.plans.all(),
        past=Q(status=AccountPlan.Status.CLOSED),
        current_order=["-period_start", "id"],
        past_order=[F("period_start").desc(), F("id").desc()],
        raw_number=request.GET.get("plans_page"),
        raw_current_number=request.GET.get("plans_open_page"),
    )
    shown = [*plans.rows, *past.rows]
    prefetch_related_objects(
        shown,
        Prefetch(
            "objectives",
            queryset=PlanObjective.objects.prefetch_related(
                Prefetch("actions", queryset=PlanAction.objects.select_related("owner__user"))
            ),
        ),
    )
    objective_form = forms.get("objective_form")
    if objective_form is None:
        objective_form = ObjectiveForm(plans=account.plans.all())
        objective_form.use_fetched(shown)
    action_form = forms.get("action_form")
    if action_form is None:
        action_form = ActionForm(objectives=PlanObjective.objects.filter(plan__account=account))
        action_form.use_fetched(shown)
    return {
        "plans": plans.rows,
        "open_plans": plans,
        "past_plans": past,
        "has_plans": bool(shown),
        "has_objectives": any(p.objectives.all() for p in shown),
        "today": timezone.localdate(),
        "objective_form": objective_form,
        "action_form": action_form,
        "done_form": forms.get("done_form"),
        "done_target": forms.get("done_target"),
    }


ASSESSMENT_CARRIED = [
    "contract_type",
    "supplier_status",
    "forecast_sharing",
    "edi_link",
    "open_book_costing",
    *Assessment.RATINGS,
    "termination_notice",
]


def _assessment_section(request: HttpRequest, account: Account, forms: dict) -> dict:
    assessments = list(account.assessments.select_related("assessor")[:5])
    latest = assessments[0] if assessments else None
    # A new assessment starts from the latest answers: only what changed needs touching.
    initial = {name: getattr(latest, name) for name in ASSESSMENT_CARRIED} if latest else {}
    return {
        "assessment": latest,
        "assessment_history": assessments[1:],
        "assessment_form": forms.get("assessment_form") or AssessmentForm(initial=initial),
    }


def _classification_section(request: HttpRequest, account: Account, forms: dict) -> dict:
    found = account_classification(account=account)
    return {
        "classifications": _classifications(found),
        "override_form": forms.get("override_form") or OverrideForm(),
        **_history(found.history),
    }


SECTIONS = {
    "classifications": ("dashboard/partials/classifications.html", _classification_section),
    "needs": ("dashboard/partials/needs.html", _needs_section),
    "opportunities": ("dashboard/partials/opportunities.html", _opportunities_section),
    "plans": ("dashboard/partials/plans.html", _plans_section),
    "assessment": ("dashboard/partials/assessment.html", _assessment_section),
}
# Loaded after the page (`account_more`), with investments and service cases.
MORE_SECTIONS = ("assessment", "needs")
MORE_FORMS = {"assessment_form", "need_form"}


def _section_write(
    request: HttpRequest,
    account: Account,
    *,
    section: str,
    form,
    save,
    message: str,
    on_error: dict | None = None,
) -> HttpResponse:
    """Validate `form`, call `save(cleaned_data)` (a service) and answer.

    With htmx: the section's fragment, with a fresh form and `message` after a save, or with the
    bound form and its errors (status 200, so htmx swaps it). Without: a redirect back to the
    section after a save, or the whole page with the errors.
    """
    saved = False
    if form.is_valid():
        try:
            save(form.cleaned_data)
            saved = True
        except ValidationError as exc:
            _add_service_errors(form, exc)
    forms = {} if saved else (on_error or {})
    if not request.htmx:
        if saved:
            more = "?sections=all" if section in MORE_SECTIONS else ""
            return redirect(reverse("dashboard:account", args=[account.pk]) + f"{more}#{section}")
        return render(
            request,
            "dashboard/account_detail.html",
            _account_context(request, account, forms=forms),
        )
    template, build = SECTIONS[section]
    context = {
        "account": account,
        "currency": settings.KAM_BASE_CURRENCY,
        "saved": message if saved else "",
        **build(request, account, forms),
    }
    return render(request, template, context)


def _manager_of(request: HttpRequest, account: Account):
    """Who owns what the user creates: the user's manager profile, else the account owner."""
    return getattr(request.user, "manager", None) or account.owner


@require_POST
@login_required
def need_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    form = NeedForm(request.POST)
    return _section_write(
        request,
        account,
        section="needs",
        form=form,
        save=lambda data: customer_need_create(account=account, **data),
        message="Need added.",
        on_error={"need_form": form},
    )


@require_POST
@login_required
def opportunity_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    form = OpportunityForm(request.POST, currency=settings.KAM_BASE_CURRENCY)
    return _section_write(
        request,
        account,
        section="opportunities",
        form=form,
        save=lambda data: opportunity_create(
            account=account, owner=_manager_of(request, account), **data
        ),
        message="Opportunity added.",
        on_error={"opportunity_form": form},
    )


@require_POST
@login_required
def opportunity_stage(request: HttpRequest, pk: int, opportunity_pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    opportunity = get_object_or_404(Opportunity, pk=opportunity_pk, account=account)
    form = StageForm(request.POST, opportunity=opportunity)
    return _section_write(
        request,
        account,
        section="opportunities",
        form=form,
        save=lambda data: opportunity_stage_move(opportunity=opportunity, stage=data["stage"]),
        message=f"{opportunity.title} moved.",
        on_error={"stage_form": form, "stage_target": opportunity.pk},
    )


@require_POST
@login_required
def objective_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    form = ObjectiveForm(request.POST, plans=account.plans.all())
    return _section_write(
        request,
        account,
        section="plans",
        form=form,
        save=lambda data: plan_objective_create(**data),
        message="Objective added.",
        on_error={"objective_form": form},
    )


@require_POST
@login_required
def action_create(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    objectives = PlanObjective.objects.filter(plan__account=account)
    form = ActionForm(request.POST, objectives=objectives)
    return _section_write(
        request,
        account,
        section="plans",
        form=form,
        save=lambda data: plan_action_create(owner=_manager_of(request, account), **data),
        message="Action added.",
        on_error={"action_form": form},
    )


@require_POST
@login_required
def action_done(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    action = get_object_or_404(PlanAction, pk=action_pk, objective__plan__account=account)
    form = DoneForm(request.POST, action=action)
    return _section_write(
        request,
        account,
        section="plans",
        form=form,
        save=lambda data: plan_action_mark_done(action=action),
        message=f"Done: {action.description}",
        on_error={"done_form": form, "done_target": action.pk},
    )


@require_POST
@login_required
def assessment_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    form = AssessmentForm(request.POST)
    return _section_write(
        request,
        account,
        section="assessment",
        form=form,
        save=lambda data: assessment_create(account=account, assessor=request.user, **data),
        message="Assessment recorded.",
        on_error={"assessment_form": form},
    )


@require_POST
@login_required
def override_create_view(request: HttpRequest, pk: int) -> HttpResponse:
    account = _visible_account(request, pk)
    form = OverrideForm(request.POST)
    return _section_write(
        request,
        account,
        section="classifications",
        form=form,
        save=lambda data: override_create(account=account, author=request.user, **data),
        message="Segment set by hand.",
        on_error={"override_form": form},
    )


# --- classification matrices ------------------------------------------------------------------


@require_GET
@login_required
def matrix(request: HttpRequest, model: str) -> HttpResponse:
    """A model's matrix: the counts per segment, a chart of at most 2,000 accounts
    (an even sample beyond that) and the accounts' table, MATRIX_PAGE_SIZE at a time. Five
    queries and a bounded page whatever the portfolio size (100,000 accounts were 35 MB)."""
    if model not in MODELS:
        raise Http404("Unknown model.")
    form = MatrixFilterForm(request.GET or None, owners=owners_selectable_by(user=request.user))
    filters = form.filters() if form.is_bound else {}
    results = matrix_results(
        user=request.user,
        model=model,
        level=filters.get("level") or "",
        owner=filters.get("owner"),
    )
    counts = matrix_segment_counts(results)
    total = sum(counts.values())
    points = [] if model == "webster" else matrix_chart_points(results, total=total)
    chart = matrix_chart(
        model=model, points=points, counts=counts, params=model_parameters(model=model)
    )
    paginator = Paginator(matrix_table(results), MATRIX_PAGE_SIZE)
    paginator.count = total  # counted with the segments above
    page = paginator.get_page(request.GET.get("page"))
    rows = matrix_rows(page.object_list)
    for row in rows:
        row["label"] = segment_label(row["segment"])
    return render(
        request,
        "dashboard/matrix.html",
        {
            "model": model,
            "model_name": dict(KamModel.choices)[model],
            "models": KamModel.choices,
            "form": form,
            "chart": chart,
            "total": total,
            "sampled": len(points) < total and model != "webster",
            "page": page,
            "rows": rows,
            "axes": MODEL_AXES[model],
        },
    )


# --- team view --------------------------------------------------------------------------------


def can_see_team(user) -> bool:
    if user.is_superuser:
        return True
    manager = getattr(user, "manager", None)
    return manager is not None and (manager.is_sales_lead or manager.level == "global")


@require_GET
@login_required
def team(request: HttpRequest) -> HttpResponse:
    if not can_see_team(request.user):
        return render(request, "dashboard/team_forbidden.html", status=403)
    visible = accounts_visible_to(request.user)  # resolved once for the page's reads
    rows = team_overview(user=request.user, visible=visible)
    families = Paginator(
        families_of(visible=visible).values_list("pk", flat=True), FAMILIES_PAGE_SIZE
    ).get_page(request.GET.get("families_page"))
    for row in rows:
        total = sum(row["mix"].values())
        row["mix_rows"] = [
            {
                "segment": s,
                "label": segment_label(s),
                "count": row["mix"].get(s, 0),
                "percent": round(100 * row["mix"].get(s, 0) / total) if total else 0,
            }
            for s in SEGMENTS["four_s"]
        ]
        row["classified"] = total
    return render(
        request,
        "dashboard/team.html",
        {
            "rows": rows,
            "families": global_families(
                user=request.user, global_ids=list(families.object_list), visible=visible
            ),
            "families_page": families,
            "currency": settings.KAM_BASE_CURRENCY,
            "family_models": ["four_s", "millman_wilson"],
        },
    )


# --- recompute --------------------------------------------------------------------------------


def can_run_portfolio(user) -> bool:
    if user.is_superuser:
        return True
    manager = getattr(user, "manager", None)
    return manager is not None and manager.is_sales_lead


def _active_portfolio_run() -> ClassificationRun | None:
    return (
        ClassificationRun.objects.filter(scope="portfolio", status__in=["queued", "running"])
        .defer("population")  # megabytes once prepared; the progress bar shows counts only
        .order_by("-pk")
        .first()
    )


@require_POST
@login_required
def account_recompute(request: HttpRequest, pk: int) -> HttpResponse:
    """Recompute one account now and show its new classification cards."""
    account = _visible_account(request, pk)
    run = recompute_account_now(account=account, requested_by=request.user)
    if not request.htmx:
        return redirect("dashboard:account", pk=account.pk)
    return render(
        request,
        "dashboard/partials/classifications.html",
        {"account": account, "run": run, **_classification_section(request, account, {})},
    )


@require_POST
@login_required
def portfolio_recompute(request: HttpRequest) -> HttpResponse:
    """Start (or join) a recompute of the whole population; leads and admins only."""
    if not can_run_portfolio(request.user):
        return HttpResponse("Only sales leads and administrators can recompute.", status=403)
    try:
        run, _ = run_request(trigger="manual", requested_by=request.user)
    except BrokerUnavailable as exc:  # Redis down: the run is failed and says so
        if not request.htmx:
            flash.error(request, QUEUE_UNAVAILABLE)
            return redirect("dashboard:portfolio")
        run = ClassificationRun.objects.get(pk=exc.run_id)
    if not request.htmx:
        return redirect("dashboard:portfolio")
    return render(request, "dashboard/partials/run_progress.html", {"run": run})


@require_GET
@login_required
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    if not can_run_portfolio(request.user):
        return HttpResponse(status=403)
    # Polled every second while a run goes: never with its population statistics (megabytes).
    run = get_object_or_404(ClassificationRun.objects.defer("population"), pk=pk, scope="portfolio")
    return render(request, "dashboard/partials/run_progress.html", {"run": run})
