"""OAuth2 authorization code: flows in progress, stored grants, connect links, return URLs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("return_urls", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    op.create_table(
        "oauth_grants",
        sa.Column("connection_id", sa.String(32), sa.ForeignKey("connections.id"), nullable=False),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.Column("refresh_expires_at", _WHEN, nullable=True),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("obtained_at", _WHEN, nullable=False),
        sa.Column("refreshed_at", _WHEN, nullable=True),
        sa.Column("rejected_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("connection_id"),
    )
    op.create_index("ix_oauth_grants_refresh_expires_at", "oauth_grants", ["refresh_expires_at"])
    op.create_table(
        "connect_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.String(32), sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("connector_id", sa.String(32), sa.ForeignKey("connectors.id"), nullable=False),
        sa.Column("version", sa.String(32), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Column("connection_id", sa.String(32), sa.ForeignKey("connections.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_connect_links_enterprise_id", "connect_links", ["enterprise_id"])
    op.create_table(
        "oauth_flows",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.String(32), sa.ForeignKey("enterprises.id"), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("connector_id", sa.String(32), sa.ForeignKey("connectors.id"), nullable=False),
        sa.Column(
            "version_id", sa.String(32), sa.ForeignKey("connector_versions.id"), nullable=False
        ),
        sa.Column("connection_id", sa.String(32), sa.ForeignKey("connections.id"), nullable=True),
        sa.Column(
            "connect_link_id", sa.String(32), sa.ForeignKey("connect_links.id"), nullable=True
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("public_credentials", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("return_url", sa.Text(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    op.create_index("ix_oauth_flows_enterprise_id", "oauth_flows", ["enterprise_id"])
    op.create_index("ix_oauth_flows_expires_at", "oauth_flows", ["expires_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("oauth_flows")
    op.drop_table("connect_links")
    op.drop_table("oauth_grants")
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("return_urls")
