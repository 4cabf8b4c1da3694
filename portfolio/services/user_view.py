"""A user as the administrator's user page shows them, built once: the page renders it and the
JSON API returns it. Who they are, whether they may sign in, and their roles on missions."""

from __future__ import annotations

from pydantic import BaseModel

from portfolio.adapters.ports import UnitOfWork
from portfolio.domain.model import RoleAssignment, User


class UserView(BaseModel):
    user: User
    roles: list[RoleAssignment]


def user_view(uow: UnitOfWork, username: str) -> UserView:
    """User ``username`` (NotFound when there is none) with their roles."""
    return UserView(
        user=uow.users.get(username),
        roles=uow.users.roles(username),
    )
