"""Small building blocks shared by every app's models."""

from django.core.validators import RegexValidator
from django.db import models

country_code_validator = RegexValidator(
    r"^[A-Z]{2}$", "Enter an ISO 3166 alpha-2 country code in capitals, e.g. DE."
)
currency_code_validator = RegexValidator(
    r"^[A-Z]{3}$", "Enter an ISO 4217 currency code in capitals, e.g. EUR."
)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
