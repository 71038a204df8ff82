"""Collections: uniform CRUD over an API's records, built on the runtime.

``client.collection("contacts")`` returns a :class:`Collection`; every collection hands out
:class:`Record` objects of one shape and raises the same errors
(:class:`~connectory.errors.NotSupported`, :class:`~connectory.errors.RecordInvalid`,
:class:`~connectory.errors.RecordNotFound`, :class:`~connectory.errors.AmbiguousMatch`).
"""

from connectory.collections.collection import Collection
from connectory.collections.listing import RecordPage
from connectory.collections.records import Record, to_rfc3339

__all__ = ["Collection", "Record", "RecordPage", "to_rfc3339"]
