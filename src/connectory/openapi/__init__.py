"""OpenAPI 3.0/3.1 and Swagger 2.0 -> connector drafts (a pure transform).

::

    result = import_openapi(Path("petstore.json").read_bytes(), tags=["pet"])
    result.connector        # the connector document
    result.warnings         # what could not be expressed, with JSON pointers
    result.suggestions      # pagination to accept with accept_pagination()

See docs/openapi-import.md for what maps to what.
"""

from connectory.openapi.errors import OpenAPIError
from connectory.openapi.importer import import_openapi
from connectory.openapi.pagination import accept_pagination
from connectory.openapi.reading import MAX_DOCUMENT_BYTES, size_problem
from connectory.openapi.reimport import ReimportPlan, plan_reimport
from connectory.openapi.results import ImportResult, OpenAPIWarning, PaginationSuggestion

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "ImportResult",
    "OpenAPIError",
    "OpenAPIWarning",
    "PaginationSuggestion",
    "ReimportPlan",
    "accept_pagination",
    "import_openapi",
    "plan_reimport",
    "size_problem",
]
