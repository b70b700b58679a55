"""Serializers of the classification API."""

from rest_framework import serializers

from accounts.selectors import accounts_visible_to
from classification.models import (
    ClassificationOverride,
    ClassificationResult,
    ClassificationRun,
    ParameterSet,
)
from kam.api_common import ScopedPrimaryKeyRelatedField


class ClassificationRunApiSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-v1:classification-run-detail")
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ClassificationRun
        fields = (
            "id",
            "url",
            "trigger",
            "scope",
            "reference_date",
            "status",
            "progress_percent",
            "accounts_total",
            "chunks_total",
            "chunks_done",
            "results_count",
            "events_count",
            "requested_by",
            "started_at",
            "finished_at",
            "error_summary",
            "created_at",
        )
        read_only_fields = fields


class ClassificationRunRequestApiSerializer(serializers.Serializer):
    reference_date = serializers.DateField(
        required=False, help_text="The day the scores describe; today unless given."
    )

    def validate(self, attrs):
        # A blank form field would otherwise read as "not given" (DRF's HTML-form rule) and
        # start a run for today: a blank is not a date.
        if "reference_date" not in attrs and self.initial_data.get("reference_date") == "":
            raise serializers.ValidationError(
                {
                    "reference_date": [
                        "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                    ]
                }
            )
        return attrs


class ParameterSetApiSerializer(serializers.ModelSerializer):
    activate = serializers.BooleanField(
        write_only=True, default=True, help_text="Make it the version the next run uses."
    )

    class Meta:
        model = ParameterSet
        fields = (
            "id",
            "model",
            "version",
            "parameters",
            "is_active",
            "activate",
            "author",
            "note",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "version", "is_active", "author", "created_at", "updated_at")


class ExplanationLineSerializer(serializers.Serializer):
    indicator = serializers.CharField()
    raw_value = serializers.JSONField(allow_null=True)
    points = serializers.FloatField(allow_null=True)
    weight = serializers.FloatField()
    contribution = serializers.FloatField()
    axis = serializers.CharField(allow_null=True, allow_blank=True, required=False)
    note = serializers.CharField(allow_null=True, allow_blank=True, required=False)


class ClassificationResultApiSerializer(serializers.ModelSerializer):
    reference_date = serializers.DateField(source="run.reference_date", read_only=True)
    parameter_version = serializers.IntegerField(
        source="parameter_set.version", read_only=True, allow_null=True
    )
    axes = serializers.DictField(child=serializers.FloatField(allow_null=True))
    flags = serializers.ListField(child=serializers.CharField())
    explanation = ExplanationLineSerializer(many=True)
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = ClassificationResult
        fields = (
            "model",
            "segment",
            "axes",
            "flags",
            "explanation",
            "run",
            "reference_date",
            "parameter_version",
            "is_current",
            "created_at",
        )
        read_only_fields = fields


class ClassificationOverrideApiSerializer(serializers.ModelSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)

    class Meta:
        model = ClassificationOverride
        fields = (
            "id",
            "account",
            "model",
            "segment",
            "reason",
            "author",
            "is_active",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "author", "is_active", "created_at", "updated_at")
        validators = []


class AccountScoresApiSerializer(serializers.Serializer):
    """The current result under each model with its full explanation, the active overrides,
    and every earlier result (newest run first)."""

    account = serializers.IntegerField()
    current = ClassificationResultApiSerializer(many=True)
    overrides = ClassificationOverrideApiSerializer(many=True)
    history = ClassificationResultApiSerializer(many=True)


class AccountRecomputeApiSerializer(serializers.Serializer):
    run = ClassificationRunApiSerializer()
    current = ClassificationResultApiSerializer(many=True)
