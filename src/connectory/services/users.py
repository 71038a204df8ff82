"""Users: who may create, see, change and delete whom.

Rules:

- Platform admins manage every user, other platform admins included.
- Enterprise admins manage the users of their own enterprise (admins and viewers). They never
  create or promote platform admins, and grant connector SDK access only if they have it
  themselves: nobody hands out more than they hold.
- Viewers see and edit only themselves (name and email).
- Nobody changes their own role or SDK access, or deletes themselves: an admin cannot lock
  themselves out or promote themselves, and there is always someone left to manage them.
- SDK access belongs to enterprise admins only; platform admins build connectors anyway.
- A user's role cannot cross between platform admin and the enterprise roles: platform admins
  belong to no enterprise. Create a new user instead.
- Emails are stored lower-case and unique among live users (409). Deleting is a soft delete
  that also revokes the user's tokens.
- References are resolved before permissions are checked, so another enterprise (in the path,
  the query or the body) is always 404, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, FieldIssue, InvalidRequest, NotFound, PermissionDenied
from connectory.services.access import visible_users
from connectory.services.enterprises import get_enterprise
from connectory.services.generations import announce_identity
from connectory.services.listing import contains_text, fetch_page, is_plausible_id
from connectory.services.principal import Principal, Role
from connectory.store.models import ApiToken, User, utcnow


@dataclass(frozen=True)
class NewUser:
    """What a new user is made of.

    Attributes:
        email: The email (already checked for shape), unique among live users.
        role: ``platform_admin``, ``enterprise_admin`` or ``viewer``.
        name: The display name.
        enterprise_id: Required for enterprise roles; enterprise admins may leave it out to
            mean their own enterprise. Must be None for platform admins.
        sdk_access: Connector SDK access (enterprise admins only).
    """

    email: str
    role: Role
    name: str = ""
    enterprise_id: str | None = None
    sdk_access: bool = False


@dataclass(frozen=True)
class UserChanges:
    """Changes to a user; None leaves a field as it is."""

    email: str | None = None
    name: str | None = None
    role: Role | None = None
    sdk_access: bool | None = None


def _not_found(user_id: str) -> NotFound:
    return NotFound(f"user {user_id!r} not found")


async def get_user(session: AsyncSession, principal: Principal, user_id: str) -> User:
    """Return the live user *user_id* if *principal* may see them.

    Raises:
        NotFound: no such user, deleted, or outside the caller's view (one message for all).
    """
    if not is_plausible_id(user_id):
        raise _not_found(user_id[:64])
    user = await session.scalar(select(User).where(User.id == user_id, visible_users(principal)))
    if user is None:
        raise _not_found(user_id)
    return user


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    enterprise_id: str | None = None,
    role: Role | None = None,
    search: str | None = None,
) -> tuple[list[User], int]:
    """Return one page of the users *principal* may see, and how many there are.

    Args:
        session: The database session.
        principal: The caller.
        limit: Page length.
        offset: Rows to skip.
        enterprise_id: Keep this enterprise's users (404 if the caller cannot see it).
        role: Keep users with this role.
        search: Keep users whose email or name contains this text (ignoring case).
    """
    statement = select(User).where(visible_users(principal))
    if enterprise_id is not None:
        await get_enterprise(session, principal, enterprise_id)
        statement = statement.where(User.enterprise_id == enterprise_id)
    if role is not None:
        statement = statement.where(User.role == role)
    if search:
        statement = statement.where(
            or_(contains_text(User.email, search), contains_text(User.name, search))
        )
    statement = statement.order_by(User.created_at, User.id)
    return await fetch_page(session, statement, limit, offset)


async def create_user(session: AsyncSession, principal: Principal, new: NewUser) -> User:
    """Create a user.

    Raises:
        NotFound: ``enterprise_id`` names an enterprise the caller cannot see.
        PermissionDenied: the caller may not create users, or not this role or SDK access.
        InvalidRequest: the role and the enterprise or SDK access do not fit together.
        Conflict: a live user has that email.
    """
    if new.enterprise_id is not None:
        await get_enterprise(session, principal, new.enterprise_id)
    if not (principal.is_platform_admin or principal.is_enterprise_admin):
        raise PermissionDenied("only platform admins and enterprise admins can create users")
    if new.role == "platform_admin":
        if not principal.is_platform_admin:
            raise PermissionDenied("only platform admins can create platform admins")
        if new.enterprise_id is not None:
            raise _invalid("enterprise_id", "platform admins belong to no enterprise; leave it out")
        enterprise_id = None
    else:
        enterprise_id = new.enterprise_id or principal.enterprise_id
        if enterprise_id is None:
            raise _invalid("enterprise_id", f"a {new.role} needs the enterprise they belong to")
    _check_sdk_access(principal, new.role, new.sdk_access, had=False)
    await _check_email_free(session, new.email)
    user = User(
        email=new.email,
        name=new.name,
        role=new.role,
        enterprise_id=enterprise_id,
        sdk_access=new.sdk_access,
    )
    session.add(user)
    await _flush_unique_email(session, new.email)
    return user


async def update_user(
    session: AsyncSession, principal: Principal, user_id: str, changes: UserChanges
) -> User:
    """Change a user's email, name, role or SDK access.

    Raises:
        NotFound: the user is not visible to the caller.
        PermissionDenied: the caller may not make this change (see the module rules).
        InvalidRequest: the new role does not fit the user.
        Conflict: a live user has the new email.
    """
    user = await get_user(session, principal, user_id)
    is_self = user.id == principal.user_id
    if not is_self:
        _check_manages(principal, user)
    role: Role = changes.role or user.role  # type: ignore[assignment]  # constrained on write
    if changes.sdk_access is not None:
        sdk_access = changes.sdk_access
    else:
        # SDK access means nothing outside the enterprise admin role: drop it with the role.
        sdk_access = user.sdk_access and role == "enterprise_admin"
    if role != user.role or sdk_access != user.sdk_access:
        if is_self:
            raise PermissionDenied(
                "you cannot change your own role or SDK access; ask another admin"
            )
        _check_role_change(principal, user, role)
        _check_sdk_access(principal, role, sdk_access, had=user.sdk_access)
    if changes.email is not None and changes.email != user.email:
        await _check_email_free(session, changes.email)
        user.email = changes.email
    if changes.name is not None:
        user.name = changes.name
    if role != user.role or sdk_access != user.sdk_access:
        # Requests authenticated as this user, in every process, see the new role.
        await announce_identity(session, user.id)
    user.role = role
    user.sdk_access = sdk_access
    await _flush_unique_email(session, user.email)
    return user


async def delete_user(session: AsyncSession, principal: Principal, user_id: str) -> None:
    """Soft-delete a user and revoke their tokens.

    Raises:
        NotFound: the user is not visible to the caller.
        PermissionDenied: the caller may not manage the user, or it is the caller.
    """
    user = await get_user(session, principal, user_id)
    if user.id == principal.user_id:
        raise PermissionDenied("you cannot delete yourself; ask another admin")
    _check_manages(principal, user)
    moment = utcnow()
    user.deleted_at = moment
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    await session.flush()
    await announce_identity(session, user.id)


def check_manages(principal: Principal, user: User) -> None:
    """Raise PermissionDenied unless *principal* manages *user* (or is them).

    Platform admins manage everyone; enterprise admins the users of their enterprise.
    """
    if user.id != principal.user_id:
        _check_manages(principal, user)


def _check_manages(principal: Principal, user: User) -> None:
    if principal.is_platform_admin:
        return
    if principal.is_enterprise_admin and user.enterprise_id == principal.enterprise_id:
        return
    raise PermissionDenied("only platform admins and admins of the user's enterprise can do this")


def _check_role_change(principal: Principal, user: User, role: Role) -> None:
    if role == user.role:
        return
    if role == "platform_admin" and not principal.is_platform_admin:
        raise PermissionDenied("only platform admins can make platform admins")
    if "platform_admin" in (role, user.role):
        raise _invalid(
            "role",
            "a role cannot change between platform_admin and the enterprise roles; "
            "create a new user instead",
        )


def _check_sdk_access(principal: Principal, role: Role, sdk_access: bool, *, had: bool) -> None:
    if not sdk_access:
        return
    if role != "enterprise_admin":
        raise _invalid("sdk_access", "only enterprise admins can have connector SDK access")
    if not had and not (principal.is_platform_admin or principal.sdk_access):
        raise PermissionDenied("only admins with connector SDK access can grant it")


async def _check_email_free(session: AsyncSession, email: str) -> None:
    taken = await session.scalar(
        select(User.id).where(User.email == email, User.deleted_at.is_(None)).limit(1)
    )
    if taken is not None:
        raise _email_taken(email)


async def _flush_unique_email(session: AsyncSession, email: str) -> None:
    # The partial unique index settles a race the check above cannot see.
    try:
        await session.flush()
    except IntegrityError as error:
        await session.rollback()
        raise _email_taken(email) from error


def _email_taken(email: str) -> Conflict:
    return Conflict(f"a user with email {email!r} exists already")


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", [FieldIssue(("body", field), message)])
