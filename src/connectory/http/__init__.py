"""The wire: the HTTP reply type and redaction of secrets."""

from connectory.http.redaction import REDACTED, Redactor, is_sensitive_name
from connectory.http.reply import Reply, read_reply

__all__ = ["REDACTED", "Redactor", "Reply", "is_sensitive_name", "read_reply"]
