"""Saving a builder test run as a recorded test case of the draft.

The builder's Test tab runs an operation with test credentials; "save as test case" runs it
again recording the traffic (every secret scrubbed before anything is kept) and stores the case
and its recording with the draft, as ``tests/cases.yaml`` and ``tests/recordings/<case>.json``
among its files. ``connectory test`` runs them offline from an exported connector folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.cases import CaseResult, CaseRunner, CasesFile, CaseSpec, parse_cases
from connectory.cases.model import dump_cases, with_case
from connectory.errors import InvalidRequest
from connectory.resilience import ResiliencePipeline
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.connector_documents import check_files
from connectory.services.connector_versions import spec_of, update_draft
from connectory.services.connectors import draft_of, find_editable_connector
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox, read_secrets
from connectory.services.sensitive_defaults import runtime_spec
from connectory.services.server_runtime import transport_factory
from connectory.settings import Settings
from connectory.store.models import utcnow

CASES_FILE = "tests/cases.yaml"
RECORDINGS = "tests/recordings"


def draft_cases(files: Mapping[str, str]) -> CasesFile:
    """The draft's cases file (empty when it has none).

    Raises:
        InvalidRequest: the stored cases file is not valid; fix it first.
    """
    text = files.get(CASES_FILE)
    if not text:
        return CasesFile()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidRequest(f"{CASES_FILE} is not valid YAML: {error}") from None
    try:
        return parse_cases(data, CASES_FILE)
    except Exception as error:  # InputError: report it as a request problem
        raise InvalidRequest(str(error)) from None


async def save_draft_case(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    settings: Settings,
    pipeline: ResiliencePipeline,
    connector_id: str,
    case: CaseSpec,
    credentials: Mapping[str, Any],
    connector_parameters: Mapping[str, Any] | None,
) -> tuple[CaseResult, list[str]]:
    """Record *case* against the real API with the test credentials; store it with the draft.

    The credentials are used for this call only and never stored: the recording holds
    placeholders in their place. Returns the case's result and the files written.

    Raises:
        InvalidRequest: no draft, or its stored cases file is invalid.
        PermissionDenied, NotFound: the caller may not edit the connector.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    draft = await draft_of(session, connector)
    spec = spec_of(draft) if draft is not None else None
    if draft is None or spec is None:
        raise InvalidRequest("save the connector as a valid draft first; test cases go with it")
    existing = draft_cases(draft.files)
    spec = await runtime_spec(session, box, draft.id, spec)
    parameters = dict(connector_parameters) if connector_parameters is not None else None
    if parameters is None:
        parameters = await read_secrets(session, box, CONNECTOR_PARAMETERS_OWNER, connector.id)
    await session.commit()  # release the database while the upstream answers
    runner = CaseRunner(
        spec,
        CasesFile(ignore_headers=existing.ignore_headers, cases=[case]),
        Path(RECORDINGS),
        record=True,
        credentials=credentials,
        connector_parameters=parameters,
        transport=transport_factory(settings)(),
        client_options={
            "pipeline": pipeline,
            "connection_key": f"draft:{connector.id}:{principal.user_id}",
            "connector_key": connector.id,
            "tenant_key": principal.enterprise_id or "platform",
        },
    )
    result, cassette = await runner.record_case(case)
    recording = f"{RECORDINGS}/{case.slug}.json"
    files = {
        **draft.files,
        CASES_FILE: dump_cases(with_case(existing, case)),
        recording: cassette.to_bytes().decode(),
    }
    problems = check_files(files)
    if problems:
        raise InvalidRequest(
            "the draft's files would be too large with this recording: "
            + "; ".join(problem.message for problem in problems[:3])
        )
    await update_draft(session, draft, {"files": files, "updated_at": utcnow()})
    await session.commit()
    return result, [CASES_FILE, recording]
