"""Forms of the dashboard: the portfolio filters and the interaction log."""

import datetime as dt

from django import forms
from django.utils import timezone

from accounts.models import Account, Contact, Level
from classification.models import SEGMENTS, KamModel
from relationships.models import Interaction

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

    def clean_occurred_at(self):
        value = self.cleaned_data["occurred_at"]
        if value > timezone.now() + dt.timedelta(hours=1):
            raise forms.ValidationError("An interaction cannot be in the future.")
        return value


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
