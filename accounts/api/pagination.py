"""Pagination of the accounts list: counted as filtered, read through `.values()`."""

from collections.abc import Iterable

from django.core.paginator import Paginator

from kam.api_common import KamPagination


class ValuesPaginator(Paginator):
    """Counts the queryset as it is and reads the page with `.values(*columns)`: a count of the
    `.values()` queryset would keep the join its related columns need (`customer__name`) and
    join every visible account to its customer just to count them."""

    def __init__(self, object_list, per_page, *, columns: Iterable[str], **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.columns = tuple(columns)

    def _get_page(self, object_list, number, paginator):
        return super()._get_page(object_list.values(*self.columns), number, paginator)


class ValuesPagination(KamPagination):
    """`KamPagination` (same parameters, same answer) whose page holds `.values()` rows of
    `columns` (set by a subclass)."""

    columns: tuple[str, ...] = ()

    def django_paginator_class(self, object_list, per_page):
        return ValuesPaginator(object_list, per_page, columns=self.columns)
