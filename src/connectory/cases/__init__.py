"""Recorded tests for connector authors: cases, recordings scrubbed of secrets, offline replay.

``connectory test CONNECTOR`` replays a connector's cases from their recordings;
``--record`` records them against the real API first. See docs/recorded-tests.md.
"""

from connectory.cases.cassette import Cassette, Interaction, Scrubber
from connectory.cases.model import CasesFile, CaseSpec, cases_path_for, load_cases, parse_cases
from connectory.cases.run import KIND_RUNNERS, CaseResult, CaseRunner, check_expectations
from connectory.cases.transports import RecordingTransport, ReplayTransport

__all__ = [
    "KIND_RUNNERS",
    "CaseResult",
    "CaseRunner",
    "CaseSpec",
    "CasesFile",
    "Cassette",
    "Interaction",
    "RecordingTransport",
    "ReplayTransport",
    "Scrubber",
    "cases_path_for",
    "check_expectations",
    "load_cases",
    "parse_cases",
]
