"""The login backend: Django's, with the user's manager profile read in the same query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class ManagerModelBackend(ModelBackend):
    """Every dashboard page reads `request.user.manager` to resolve the portfolio; loading it with
    the user saves one query per request."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("manager")
        try:
            user = users.get(pk=user_id)
        except users.model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
