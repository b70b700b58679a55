"""Forms of the dashboard: the portfolio filters and the writes of the account page."""

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Account, Contact, Level
from classification.models import SEGMENTS, KamModel
from relationships.models import (
    AccountPlan,
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
)

from .explain import segment_name
from .selectors import SORTS

SENTIMENTS = [(2, "Very positive"), (1, "Positive"), (0, "Neutral"), (-1, "Negative")]
SENTIMENTS.append((-2, "Very negative"))


def segment_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices "model:segment" for every model."""
    return [
        (label, [(f"{model}:{s}", segment_name(s)) for s in SEGMENTS[model]])
        for model, label in KamModel.choices
    ]


def _sort_choices() -> list[tuple[str, str]]:
    labels = {"name": "Customer", "country": "Country", "level": "Level", "status": "Status"}
    labels |= {"owner": "Owner", "revenue": "Revenue 12 months"}
    choices = []
    for key in SORTS:
        choices += [(key, f"{labels[key]} ↑"), (f"-{key}", f"{labels[key]} ↓")]
    return choices


class AccountFilterForm(forms.Form):
    q = forms.CharField(label="Search customer", required=False, max_length=100)
    level = forms.ChoiceField(label="Level", required=False)
    country = forms.ChoiceField(label="Country", required=False)
    status = forms.ChoiceField(label="Status", required=False)
    key = forms.ChoiceField(
        label="Key account",
        required=False,
        choices=[("", "All"), ("yes", "Key accounts"), ("no", "Other accounts")],
    )
    segment = forms.ChoiceField(label="Segment", required=False)
    owner = forms.ModelChoiceField(label="Owner", required=False, queryset=None)
    sort = forms.ChoiceField(label="Sort by", required=False)

    def __init__(self, *args, countries=(), owners=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", "All levels"), *Level.choices]
        self.fields["country"].choices = [("", "All countries"), *[(c, c) for c in countries]]
        self.fields["status"].choices = [("", "All statuses"), *Account.Status.choices]
        self.fields["segment"].choices = [("", "Any segment"), *segment_choices()]
        self.fields["sort"].choices = _sort_choices()
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners
            self.fields["owner"].empty_label = "All owners"

    def filters(self) -> dict:
        """Cleaned filters; an invalid value is dropped rather than failing the page."""
        if self.is_valid():
            return self.cleaned_data
        return {k: v for k, v in self.cleaned_data.items() if k not in self.errors}


class ContactChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Contact) -> str:
        return f"{obj.name} ({obj.title})" if obj.title else obj.name


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label="Type", choices=Interaction.Kind.choices)
    occurred_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    summary = forms.CharField(
        label="Summary",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What was discussed, next steps"}),
    )
    sentiment = forms.TypedChoiceField(label="Sentiment", choices=SENTIMENTS, coerce=int, initial=0)
    contacts = ContactChoiceField(
        label="Contacts met",
        required=False,
        queryset=Contact.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, contacts=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if contacts is not None:
            self.fields["contacts"].queryset = contacts
        if not self.is_bound:
            self.initial.setdefault(
                "occurred_at", timezone.localtime().replace(second=0, microsecond=0)
            )

    def clean_summary(self) -> str:
        summary = self.cleaned_data["summary"].strip()
        if not summary:
            raise forms.ValidationError("Write what happened.")
        return summary


class MatrixFilterForm(forms.Form):
    level = forms.ChoiceField(label="Level", required=False)
    owner = forms.ModelChoiceField(label="Owner", required=False, queryset=None)

    def __init__(self, *args, owners=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", "All levels"), *Level.choices]
        if owners is None:
            del self.fields["owner"]
        else:
            self.fields["owner"].queryset = owners
            self.fields["owner"].empty_label = "All owners"

    def filters(self) -> dict:
        if self.is_valid():
            return self.cleaned_data
        return {k: v for k, v in self.cleaned_data.items() if k not in self.errors}


# --- account page forms: needs, opportunities, plans, assessments, overrides -----------------


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _AccountForm(forms.Form):
    """A form of the account page: no ":" after labels, ids prefixed so that several forms can
    share the page without clashing."""

    prefix_name = ""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("auto_id", f"id_{self.prefix_name}_%s")
        super().__init__(*args, **kwargs)


class NeedForm(_AccountForm):
    prefix_name = "need"

    description = forms.CharField(
        label="Need",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What the customer needs"}),
    )
    priority = forms.ChoiceField(
        label="Priority", choices=CustomerNeed.Priority.choices, initial="medium"
    )
    status = forms.ChoiceField(label="Status", choices=CustomerNeed.Status.choices, initial="open")
    identified_on = forms.DateField(label="Identified on", required=False, widget=_date_widget())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("identified_on", timezone.localdate())

    def clean_description(self) -> str:
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError("Describe the need.")
        return description


class OpportunityForm(_AccountForm):
    prefix_name = "opp"

    title = forms.CharField(label="Title", max_length=200)
    value = forms.DecimalField(label="Value", min_value=0, max_digits=16, decimal_places=2)
    currency = forms.CharField(label="Currency", max_length=3, min_length=3)
    stage = forms.ChoiceField(
        label="Stage", choices=Opportunity.Stage.choices, initial="identified"
    )
    probability = forms.IntegerField(
        label="Probability (%)", min_value=0, max_value=100, initial=10
    )
    expected_close = forms.DateField(label="Expected close", required=False, widget=_date_widget())
    is_joint_work = forms.BooleanField(label="Joint work with the customer", required=False)

    def __init__(self, *args, currency: str = "EUR", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = currency

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the opportunity a title.")
        return title

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


class StageForm(forms.Form):
    """Move one open opportunity along the pipeline."""

    stage = forms.ChoiceField(label="Stage", choices=Opportunity.Stage.choices)

    def __init__(self, *args, opportunity: Opportunity, **kwargs):
        super().__init__(*args, **kwargs)
        self.opportunity = opportunity

    def clean_stage(self) -> str:
        stage = self.cleaned_data["stage"]
        if not self.opportunity.is_open:
            raise forms.ValidationError("This opportunity is closed already.")
        if stage == self.opportunity.stage:
            raise forms.ValidationError("The opportunity is at this stage already.")
        return stage


class DoneForm(forms.Form):
    """Mark one open plan action done (today)."""

    def __init__(self, *args, action: PlanAction, **kwargs):
        super().__init__(*args, **kwargs)
        self.action = action

    def clean(self):
        if self.action.status != PlanAction.Status.OPEN:
            raise forms.ValidationError(
                f"This action is {self.action.get_status_display().lower()} already."
            )
        return super().clean()


def plan_label(plan: AccountPlan) -> str:
    """The plan's months in the active language's format ("May 2026", "Mai 2026")."""
    start, end = (date_format(d, "YEAR_MONTH_FORMAT") for d in (plan.period_start, plan.period_end))
    return f"{start} to {end} ({plan.get_status_display()})"


class ObjectiveForm(_AccountForm):
    prefix_name = "objective"

    plan = forms.ModelChoiceField(label="Plan", queryset=AccountPlan.objects.none())
    description = forms.CharField(
        label="Objective", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    metric = forms.CharField(label="Metric", max_length=100, required=False)
    target = forms.CharField(label="Target", max_length=100, required=False)
    due_on = forms.DateField(label="Due on", required=False, widget=_date_widget())
    is_joint_work = forms.BooleanField(label="Joint work with the customer", required=False)

    def __init__(self, *args, plans=None, **kwargs):
        super().__init__(*args, **kwargs)
        if plans is not None:
            self.fields["plan"].queryset = plans
        self.fields["plan"].empty_label = None
        self.fields["plan"].label_from_instance = plan_label

    def use_fetched(self, plans) -> None:
        """Offer plans already fetched instead of querying them again while rendering."""
        self.fields["plan"].choices = [(p.pk, plan_label(p)) for p in plans]

    def clean_description(self) -> str:
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError("Describe the objective.")
        return description


class ActionForm(_AccountForm):
    prefix_name = "action"

    objective = forms.ModelChoiceField(label="Objective", queryset=PlanObjective.objects.none())
    description = forms.CharField(label="Action", max_length=250)
    due_on = forms.DateField(label="Due on", widget=_date_widget())

    def __init__(self, *args, objectives=None, **kwargs):
        super().__init__(*args, **kwargs)
        if objectives is not None:
            self.fields["objective"].queryset = objectives
        self.fields["objective"].empty_label = None

    def use_fetched(self, plans) -> None:
        """Offer the objectives of plans already fetched, grouped by plan, without a query."""
        self.fields["objective"].choices = [
            (plan_label(p), [(o.pk, str(o)) for o in p.objectives.all()])
            for p in plans
            if p.objectives.all()
        ]

    def clean_description(self) -> str:
        description = self.cleaned_data["description"].strip()
        if not description:
            raise forms.ValidationError("Describe the action.")
        return description


RATING_CHOICES = [("", "—"), *[(i, str(i)) for i in range(1, 6)]]
RATING_LABELS = {
    "strategic_fit": "Strategic fit",
    "openness": "Openness",
    "satisfaction": "Satisfaction",
    "customisation": "Customisation",
    "technical_novelty": "Technical novelty",
    "change_frequency": "Change frequency",
}


class AssessmentForm(_AccountForm):
    prefix_name = "assessment"

    assessed_on = forms.DateField(label="Assessed on", widget=_date_widget())
    contract_type = forms.ChoiceField(
        label="Contract type", choices=Assessment.ContractType.choices
    )
    supplier_status = forms.ChoiceField(
        label="Supplier status", choices=Assessment.SupplierStatus.choices
    )
    forecast_sharing = forms.BooleanField(label="Shares forecasts", required=False)
    edi_link = forms.BooleanField(label="EDI / API link", required=False)
    open_book_costing = forms.BooleanField(label="Open-book costing", required=False)
    termination_notice = forms.BooleanField(
        label="The customer has given notice on a contract", required=False
    )
    comment = forms.CharField(
        label="Comment", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )

    CHECKBOXES = ("forecast_sharing", "edi_link", "open_book_costing")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in RATING_LABELS.items():
            self.fields[name] = forms.TypedChoiceField(
                label=f"{label} (1-5)",
                choices=RATING_CHOICES,
                coerce=int,
                empty_value=None,
                required=False,
            )
        # Ratings after the selects, the checkboxes and comment last.
        order = ["assessed_on", "contract_type", "supplier_status", *RATING_LABELS]
        self.order_fields([*order, *self.CHECKBOXES, "termination_notice", "comment"])
        if not self.is_bound:
            self.initial.setdefault("assessed_on", timezone.localdate())

    def select_fields(self):
        skip = {*self.CHECKBOXES, "termination_notice", "comment"}
        return [f for f in self if f.name not in skip]

    def checkbox_fields(self):
        return [self[name] for name in self.CHECKBOXES]


class OverrideForm(_AccountForm):
    prefix_name = "override"

    model = forms.ChoiceField(label="Model", choices=KamModel.choices)
    segment = forms.ChoiceField(label="Segment")
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Why the computed segment is wrong"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [
            (label, [(s, segment_name(s)) for s in SEGMENTS[model]])
            for model, label in KamModel.choices
        ]
        self.fields["segment"].widget.attrs["data-segment-select"] = "true"
        self.fields["model"].widget.attrs["data-model-select"] = "true"

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Write why you override the computed segment.")
        return reason

    def clean(self):
        cleaned = super().clean()
        model, segment = cleaned.get("model"), cleaned.get("segment")
        if model and segment and segment not in SEGMENTS[model]:
            label = dict(KamModel.choices)[model]
            self.add_error("segment", f"{segment_name(segment)} is not a segment of {label}.")
        return cleaned
