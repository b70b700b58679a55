"""A test-only URLconf for the transaction import, independent of the API's own routing."""

from django.urls import path

from accounts.api.imports import TransactionImportApi

urlpatterns = [
    path("api/v1/transactions/import/", TransactionImportApi.as_view(), name="transaction-import"),
]
