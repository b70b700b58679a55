"""Serializers of the accounts API. Top-level, uniquely named (they become schema components)."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction as db_transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.fields import empty
from rest_framework.settings import api_settings

from accounts.history import HISTORY_MODEL_KEYS
from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    ExchangeRate,
    ProductLine,
    Transaction,
)
from accounts.selectors import accounts_visible_to, customers_visible_to, managers_visible_to
from accounts.services import transaction_convert, transaction_create
from classification.models import KamModel
from kam.api_common import ScopedPrimaryKeyRelatedField

TIMESTAMPS = ("created_at", "updated_at")


class CleanModelSerializer(serializers.ModelSerializer):
    """Saves through the model's own validation (`full_clean`), so the API keeps the same rules
    as the admin; used for plain reference data that has no service of its own."""

    def create(self, validated_data):
        instance = self.Meta.model(**validated_data)
        instance.full_clean()
        instance.save()
        return instance

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.full_clean()
        instance.save(update_fields=[*validated_data, "updated_at"])
        return instance


class CustomerApiSerializer(CleanModelSerializer):
    parent = ScopedPrimaryKeyRelatedField(
        scope=customers_visible_to, allow_null=True, required=False
    )

    class Meta:
        model = Customer
        fields = (
            "id",
            "name",
            "legal_name",
            "industry",
            "country",
            "employees",
            "website",
            "parent",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)


class ContactApiSerializer(CleanModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(scope=customers_visible_to)

    class Meta:
        model = Contact
        fields = (
            "id",
            "customer",
            "name",
            "title",
            "email",
            "phone",
            "function",
            "seniority",
            "is_active",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", *TIMESTAMPS)


class ManagerApiSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.SerializerMethodField()
    reports = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = AccountManager
        fields = (
            "id",
            "username",
            "name",
            "level",
            "country",
            "region",
            "role",
            "reports_to",
            "reports",
        )
        read_only_fields = fields

    def get_name(self, manager: AccountManager) -> str:
        return manager.user.get_full_name() or manager.user.username


class ClassificationOverrideBriefSerializer(serializers.Serializer):
    segment = serializers.CharField()
    reason = serializers.CharField()


class ModelClassificationSerializer(serializers.Serializer):
    """An account's current result under one model; `override` is a manager's hand-set segment,
    shown beside the computed one."""

    segment = serializers.CharField(allow_null=True)
    axes = serializers.DictField(child=serializers.FloatField(allow_null=True))
    flags = serializers.ListField(child=serializers.CharField())
    override = ClassificationOverrideBriefSerializer(allow_null=True)


class AccountClassificationSerializer(serializers.Serializer):
    webster = ModelClassificationSerializer(allow_null=True)
    millman_wilson = ModelClassificationSerializer(allow_null=True)
    bensaou = ModelClassificationSerializer(allow_null=True)
    four_s = ModelClassificationSerializer(allow_null=True)


class AccountApiSerializer(CleanModelSerializer):
    """An account with its current classification under the four models. The classification
    comes from the view's context (loaded for the whole page at once), never per account."""

    customer_name = serializers.CharField(source="customer.name", read_only=True)
    owner = ScopedPrimaryKeyRelatedField(scope=managers_visible_to)
    classification = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = (
            "id",
            "customer",
            "customer_name",
            "level",
            "country",
            "parent",
            "status",
            "is_key_account",
            "owner",
            "opened_on",
            "currency",
            "wallet_estimate",
            "classification",
            *TIMESTAMPS,
        )
        # Who the account is with and where is fixed once created.
        read_only_fields = ("id", "customer", "level", "country", "parent", *TIMESTAMPS)

    @extend_schema_field(AccountClassificationSerializer)
    def get_classification(self, account: Account) -> dict:
        found = self.context.get("classifications", {}).get(account.pk, {})
        return {model: found.get(model) for model in KamModel.values}


# The list's read-only fast path: output key -> column of `.values()`.
ACCOUNT_LIST_COLUMNS = {
    "id": "id",
    "customer": "customer_id",
    "customer_name": "customer__name",
    "level": "level",
    "country": "country",
    "parent": "parent_id",
    "status": "status",
    "is_key_account": "is_key_account",
    "owner": "owner_id",
    "opened_on": "opened_on",
    "currency": "currency",
    "wallet_estimate": "wallet_estimate",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def _timestamp_format():
    """DRF's DateTimeField output for aware values (ISO 8601 in the current time zone, UTC
    written `Z`) with the time zone looked up once per page instead of once per value: DRF's
    lookups were a sixth of the list's Python."""
    field = serializers.DateTimeField(read_only=True)
    if getattr(field, "format", api_settings.DATETIME_FORMAT).lower() != ISO_8601:
        return field.to_representation
    zone = timezone.get_current_timezone()

    def timestamp(value: datetime) -> str:
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return timestamp


def _list_formats() -> dict:
    """DRF's own fields (as ModelSerializer builds them) for the values that need formatting:
    ISO dates and times in the current time zone, the decimal as a string; the other values
    are plain JSON already. Built per call: cheap, and they follow the settings."""
    wallet = Account._meta.get_field("wallet_estimate")
    timestamp = _timestamp_format()
    return {
        "opened_on": serializers.DateField().to_representation,
        "wallet_estimate": serializers.DecimalField(
            max_digits=wallet.max_digits, decimal_places=wallet.decimal_places
        ).to_representation,
        "created_at": timestamp,
        "updated_at": timestamp,
    }


def account_list_data(rows: Iterable[dict], classifications: dict) -> list[dict]:
    """The accounts list from `.values(*ACCOUNT_LIST_COLUMNS.values())` rows: exactly the JSON
    of `AccountApiSerializer(many=True)` (a test compares them field for field) at a fraction
    of its cost, which is per field and per row (~1,000 field calls for a page of 50)."""
    formats = _list_formats()
    models = KamModel.values
    data = []
    for row in rows:
        item = {}
        for key in AccountApiSerializer.Meta.fields:
            if key == "classification":
                found = classifications.get(row["id"], {})
                item[key] = {model: found.get(model) for model in models}
                continue
            value = row[ACCOUNT_LIST_COLUMNS[key]]
            item[key] = formats[key](value) if key in formats and value is not None else value
        data.append(item)
    return data


class AccountCreateApiSerializer(CleanModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(scope=customers_visible_to)
    parent = ScopedPrimaryKeyRelatedField(
        scope=accounts_visible_to, allow_null=True, required=False
    )
    owner = ScopedPrimaryKeyRelatedField(scope=managers_visible_to)

    class Meta:
        model = Account
        fields = (
            "customer",
            "level",
            "country",
            "parent",
            "status",
            "is_key_account",
            "owner",
            "opened_on",
            "currency",
            "wallet_estimate",
        )


class TeamMemberApiSerializer(CleanModelSerializer):
    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)
    manager = ScopedPrimaryKeyRelatedField(scope=managers_visible_to)

    class Meta:
        model = AccountTeamMember
        fields = ("id", "account", "manager", "role", "start_date", "end_date", *TIMESTAMPS)
        read_only_fields = ("id", *TIMESTAMPS)
        validators = []  # the model's unique constraint is checked by full_clean on save


class ProductLineApiSerializer(CleanModelSerializer):
    class Meta:
        model = ProductLine
        fields = ("id", "code", "name", "is_active", *TIMESTAMPS)
        read_only_fields = ("id", *TIMESTAMPS)


class ExchangeRateApiSerializer(CleanModelSerializer):
    class Meta:
        model = ExchangeRate
        fields = ("id", "currency", "valid_from", "rate", *TIMESTAMPS)
        read_only_fields = ("id", *TIMESTAMPS)
        validators = []


class TransactionApiSerializer(serializers.ModelSerializer):
    """`amount` (quantity x unit price) and `amount_base` (at the day's rate) are computed."""

    account = ScopedPrimaryKeyRelatedField(scope=accounts_visible_to)

    class Meta:
        model = Transaction
        fields = (
            "id",
            "account",
            "kind",
            "date",
            "product_line",
            "product_code",
            "description",
            "quantity",
            "unit_price",
            "unit_cost",
            "amount",
            "currency",
            "amount_base",
            "order_reference",
            "source_system",
            "external_reference",
            *TIMESTAMPS,
        )
        read_only_fields = ("id", "amount", "amount_base", *TIMESTAMPS)
        validators = []  # the conditional unique constraint is checked by the model

    def validate(self, attrs):
        """quantity x unit price must fit the amount (18 digits, 2 decimals). Otherwise the
        model would refuse `amount`, a field the client does not send: say it of the fields
        the client did send."""
        instance = self.instance
        quantity = attrs.get("quantity", getattr(instance, "quantity", None))
        unit_price = attrs.get("unit_price", getattr(instance, "unit_price", None))
        if quantity is not None and unit_price is not None:
            amount = Transaction.compute_amount(quantity, unit_price)
            field = Transaction._meta.get_field("amount")
            largest = Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal("0.01")
            if abs(amount) > largest:
                message = (
                    f"Quantity x unit price is {amount:,}: more than a transaction's amount can "
                    f"hold (at most {largest:,}). Check both values, or split the transaction."
                )
                given = [name for name in ("quantity", "unit_price") if name in attrs]
                raise serializers.ValidationError(
                    {name: [message] for name in given or ("quantity", "unit_price")}
                )
        return attrs

    def create(self, validated_data):
        return transaction_create(**validated_data)

    @db_transaction.atomic
    def update(self, instance, validated_data):
        """An admin's correction: amounts are recomputed and converted again."""
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.amount = Transaction.compute_amount(instance.quantity, instance.unit_price)
        instance.full_clean(exclude=["amount_base"])
        transaction_convert(txn=instance)
        instance.save()
        return instance


# --- audit trail ----------------------------------------------------------------------------


class _GivenMeansChecked:
    """A query parameter given empty (`?until=`) is checked, and refused, like any bad value:
    DRF would read it as not given."""

    def get_value(self, dictionary):
        return dictionary.get(self.field_name, empty)


class _QueryDateField(_GivenMeansChecked, serializers.DateField):
    pass


class _QueryChoiceField(_GivenMeansChecked, serializers.ChoiceField):
    pass


class AccountHistoryQueryApiSerializer(serializers.Serializer):
    """The filters of an account's history; a bad value is a 400 with the field's message (an
    `until` before `since` is no error: nothing is in that range)."""

    since = _QueryDateField(required=False, help_text="From this day on (YYYY-MM-DD).")
    until = _QueryDateField(required=False, help_text="Up to this day, inclusive.")
    model = _QueryChoiceField(
        choices=HISTORY_MODEL_KEYS, required=False, help_text="Only changes of this model."
    )


class AccountHistoryChangeApiSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class AccountHistoryEntryApiSerializer(serializers.Serializer):
    """One change: when, by whom (null: the system, a task or a command), to what, and how."""

    when = serializers.DateTimeField()
    who = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    model = serializers.ChoiceField(choices=HISTORY_MODEL_KEYS)
    object_id = serializers.IntegerField()
    object = serializers.CharField(help_text="The object as it was named after this change.")
    change = serializers.ChoiceField(choices=(("+", "created"), ("~", "changed"), ("-", "deleted")))
    reason = serializers.CharField(allow_null=True)
    changes = AccountHistoryChangeApiSerializer(
        many=True, help_text="For a change (~): each changed field, old and new value."
    )
