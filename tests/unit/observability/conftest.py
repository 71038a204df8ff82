"""Fixtures of the observability tests: a loopback OTLP collector (see testkit.otlp_sink)."""

from testkit.otlp_sink import otlp_sink

__all__ = ["otlp_sink"]
