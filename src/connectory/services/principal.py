"""Who is calling: the user behind an API token, with their role and enterprise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["platform_admin", "enterprise_admin", "viewer"]
ROLES: tuple[Role, ...] = ("platform_admin", "enterprise_admin", "viewer")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller.

    Attributes:
        user_id: The user's id.
        role: ``platform_admin`` (no enterprise), ``enterprise_admin`` or ``viewer``.
        enterprise_id: The user's enterprise; None for platform admins.
        sdk_access: Enterprise admins with connector SDK access may build private connectors.
    """

    user_id: str
    role: Role
    enterprise_id: str | None
    sdk_access: bool = False

    @property
    def is_platform_admin(self) -> bool:
        """True for platform admins."""
        return self.role == "platform_admin"

    @property
    def is_enterprise_admin(self) -> bool:
        """True for enterprise admins (with or without SDK access)."""
        return self.role == "enterprise_admin"

    @property
    def can_build_connectors(self) -> bool:
        """Platform admins build catalogue connectors; SDK admins their enterprise's."""
        return self.is_platform_admin or (self.is_enterprise_admin and self.sdk_access)

    def owner_key(self) -> str:
        """Where connectors this caller builds live: ``catalogue`` or their enterprise id."""
        if self.is_platform_admin or self.enterprise_id is None:
            return "catalogue"
        return self.enterprise_id
