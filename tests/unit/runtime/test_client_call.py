"""What ConnectorClient.call does with the response: decode, check, raise or return."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectory.errors import (
    AuthError,
    ResponseError,
    ResponseSchemaError,
    ResponseTooLarge,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)

from .support import BASE_URL, FakeClock, Recorder, build_client, build_spec

WEATHER = {
    "name": "get_current_weather",
    "path": "/weather",
    "parameters": [{"name": "q", "required": True}],
    "response_schema": {
        "type": "object",
        "required": ["main"],
        "properties": {
            "main": {
                "type": "object",
                "required": ["temp"],
                "properties": {"temp": {"type": "number"}},
            }
        },
    },
}


def _answer(response: httpx.Response) -> Recorder:
    return Recorder(lambda request: response)


async def _call(respond: Recorder, operation: dict[str, Any] | None = None, **options: Any) -> Any:
    operation = operation or {"name": "op", "path": "/op"}
    async with build_client(build_spec(operation), respond, **options) as client:
        params = {"q": "London"} if operation is WEATHER else {}
        return await client.call(operation["name"], params)


class TestDecoding:
    async def test_json_body_and_result_fields(self) -> None:
        clock = FakeClock()

        def respond(request: httpx.Request) -> httpx.Response:
            clock.advance(0.25)
            return httpx.Response(200, json={"main": {"temp": 12.5}}, headers={"X-Req": "1"})

        result = await _call(Recorder(respond), WEATHER, clock=clock)
        assert result.ok
        assert result.operation == "get_current_weather"
        assert result.status_code == 200
        assert result.body == {"main": {"temp": 12.5}}
        assert result.headers["x-req"] == "1"
        assert result.elapsed == pytest.approx(0.25)
        assert result.schema_mismatches == []
        assert result.request is not None
        assert result.request.method == "GET"
        assert result.request.url == f"{BASE_URL}/weather?q=London"
        assert result.to_dict()["request"]["url"] == result.request.url

    async def test_text_body_is_returned_as_text(self) -> None:
        result = await _call(_answer(httpx.Response(200, text="plain words")))
        assert result.body == "plain words"

    async def test_empty_body_is_none(self) -> None:
        result = await _call(_answer(httpx.Response(204)))
        assert result.body is None
        assert result.ok

    async def test_invalid_json_under_json_content_type(self) -> None:
        response = httpx.Response(
            200, content=b'{"data": [1,', headers={"Content-Type": "application/json"}
        )
        with pytest.raises(ResponseError, match="not valid JSON"):
            await _call(_answer(response))


class TestSchemaValidation:
    BAD = {"main": {"temp": "warm"}}

    async def test_warn_mode_reports_the_json_path_on_the_result(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="connectory")
        result = await _call(_answer(httpx.Response(200, json=self.BAD)), WEATHER)
        assert result.body == self.BAD
        assert [path for path, _ in result.schema_mismatches] == ["$.main.temp"]
        assert "$.main.temp" in caplog.text

    async def test_strict_mode_raises_with_the_paths(self) -> None:
        with pytest.raises(ResponseSchemaError) as caught:
            await _call(
                _answer(httpx.Response(200, json=self.BAD)), WEATHER, response_validation="strict"
            )
        assert caught.value.mismatches[0][0] == "$.main.temp"
        assert "$.main.temp" in str(caught.value)
        assert "get_current_weather" in str(caught.value)

    async def test_off_mode_skips_the_check(self) -> None:
        result = await _call(
            _answer(httpx.Response(200, json=self.BAD)), WEATHER, response_validation="off"
        )
        assert result.schema_mismatches == []

    async def test_strict_mode_accepts_a_matching_body(self) -> None:
        result = await _call(
            _answer(httpx.Response(200, json={"main": {"temp": 1}})),
            WEATHER,
            response_validation="strict",
        )
        assert result.schema_mismatches == []


class TestStatuses:
    @pytest.mark.parametrize("status", [401, 403])
    async def test_rejected_credentials_are_an_auth_error(self, status: int) -> None:
        with pytest.raises(AuthError) as caught:
            await _call(_answer(httpx.Response(status, json={"message": "bad key"})))
        assert caught.value.status_code == status
        assert "bad key" in str(caught.value)
        assert "check the connection's credentials" in str(caught.value)

    @pytest.mark.parametrize(
        ("status", "phrase"),
        [(404, "Not Found"), (503, "Service Unavailable"), (599, "Unknown Status")],
    )
    async def test_error_statuses_are_upstream_errors(self, status: int, phrase: str) -> None:
        with pytest.raises(UpstreamError) as caught:
            await _call(_answer(httpx.Response(status, json={"error": "nope"})))
        assert caught.value.status_code == status
        assert f"{status} {phrase}" in str(caught.value)
        assert '"error": "nope"' in caught.value.body or '"error":"nope"' in caught.value.body

    async def test_error_body_snippet_is_truncated(self) -> None:
        with pytest.raises(UpstreamError) as caught:
            await _call(_answer(httpx.Response(500, text="x" * 5000)))
        assert len(caught.value.body) == 500

    async def test_error_with_a_body_that_is_not_json_is_still_an_upstream_error(self) -> None:
        response = httpx.Response(
            502, content=b"<html>Bad Gateway</html>", headers={"Content-Type": "application/json"}
        )
        with pytest.raises(UpstreamError) as caught:
            await _call(_answer(response))
        assert caught.value.status_code == 502
        assert "Bad Gateway" in str(caught.value)

    async def test_raise_for_status_false_returns_the_result(self) -> None:
        async with build_client(
            build_spec(WEATHER), _answer(httpx.Response(404, json={"error": "no city"}))
        ) as client:
            result = await client.call("get_current_weather", {"q": "X"}, raise_for_status=False)
        assert not result.ok
        assert result.status_code == 404
        assert result.body == {"error": "no city"}
        # An error body is not checked against the success schema.
        assert result.schema_mismatches == []

    async def test_raise_for_status_false_with_an_unparsable_error_body(self) -> None:
        response = httpx.Response(
            422, content=b"Unprocessable Entity", headers={"Content-Type": "application/json"}
        )
        async with build_client(build_spec(WEATHER), _answer(response)) as client:
            result = await client.call("get_current_weather", {"q": "X"}, raise_for_status=False)
        assert result.status_code == 422
        assert result.body == "Unprocessable Entity"


class TestTransport:
    async def test_unreachable_host_is_a_transport_error(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

        with pytest.raises(TransportError) as caught:
            await _call(Recorder(respond))
        assert not isinstance(caught.value, UpstreamTimeout)
        assert "reach" in str(caught.value)

    async def test_timeout_is_an_upstream_timeout(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        with pytest.raises(UpstreamTimeout, match="did not answer"):
            await _call(Recorder(respond))


class _CountingStream(httpx.AsyncByteStream):
    """Yields *chunks* and counts how many were pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


class TestResponseSize:
    async def test_declared_length_over_the_limit_is_refused_unread(self) -> None:
        stream = _CountingStream([b"x" * 100] * 20)
        response = httpx.Response(200, headers={"Content-Length": "2000"}, stream=stream)
        with pytest.raises(ResponseTooLarge) as caught:
            await _call(_answer(response), max_response_bytes=1000)
        assert "1,000 bytes" in str(caught.value)
        assert "2,000 bytes" in str(caught.value)
        assert stream.pulled == 0

    async def test_chunked_body_is_abandoned_once_over_the_limit(self) -> None:
        stream = _CountingStream([b"x" * 100] * 50)
        response = httpx.Response(200, stream=stream)
        with pytest.raises(ResponseTooLarge, match="max_response_bytes"):
            await _call(_answer(response), max_response_bytes=1000)
        assert stream.pulled == 11

    async def test_body_at_the_limit_is_accepted(self) -> None:
        result = await _call(_answer(httpx.Response(200, text="y" * 1000)), max_response_bytes=1000)
        assert result.body == "y" * 1000
        chunked = _CountingStream([b"z" * 100] * 10)
        result = await _call(_answer(httpx.Response(200, stream=chunked)), max_response_bytes=1000)
        assert result.body == "z" * 1000

    async def test_compressed_body_is_measured_decoded_without_inflating_it_whole(self) -> None:
        compressed = gzip.compress(b"0" * 5_000_000)
        chunks = [compressed[i : i + 64] for i in range(0, len(compressed), 64)]
        stream = _CountingStream(chunks)
        response = httpx.Response(
            200,
            headers={"Content-Encoding": "gzip", "Content-Length": str(len(compressed))},
            stream=stream,
        )
        with pytest.raises(ResponseTooLarge):
            await _call(_answer(response), max_response_bytes=10_000)
        # Stopped long before the whole bomb was inflated.
        assert stream.pulled < len(chunks) // 2
