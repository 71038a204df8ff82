"""Connectors as data-pipeline sources: a Singer tap and an Airbyte source.

Both are front ends over :mod:`connectory.pipelines.streams` (what there is to read, read page
by page, resumable from a bookmark) and write one JSON message per line to stdout as they read,
so memory stays flat however many records pass.
"""

from connectory.pipelines.source import SourceConfig, load_source_config
from connectory.pipelines.streams import Batch, StreamSpec, discover_streams, read_stream

__all__ = [
    "Batch",
    "SourceConfig",
    "StreamSpec",
    "discover_streams",
    "load_source_config",
    "read_stream",
]
