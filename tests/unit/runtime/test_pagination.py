"""The paging strategies, driven directly with PageView objects (runtime/pagination/)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import PaginationError
from connectory.runtime.pagination import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextPage,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    PageView,
    Paginator,
    create_paginator,
    origin_of,
)
from connectory.runtime.pagination.links import same_origin
from connectory.spec import (
    CursorPaginationSpec,
    LinkHeaderPaginationSpec,
    NextUrlPaginationSpec,
    OffsetPaginationSpec,
    PageNumberPaginationSpec,
)

BASE = "https://api.example.com/v1"
ORIGIN = origin_of(BASE)


class Pages:
    """Builds consecutive PageViews with distinct content hashes."""

    def __init__(self) -> None:
        self.number = 0
        self.so_far = 0

    def next(
        self,
        records: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        url: str = f"{BASE}/items",
        content_hash: int | None = None,
    ) -> PageView:
        self.number += 1
        self.so_far += records
        return PageView(
            number=self.number,
            body=body if body is not None else {"data": list(range(records))},
            headers=httpx.Headers(headers or {}),
            url=url,
            record_count=records,
            records_so_far=self.so_far,
            content_hash=content_hash if content_hash is not None else self.number,
        )


class TestOffset:
    def test_advances_by_the_records_received(self) -> None:
        paginator = OffsetPaginator(OffsetPaginationSpec(type="offset", page_size=100))
        pages = Pages()
        assert paginator.first_params() == {"offset": "0", "limit": "100"}
        # The API caps the page at 40 although 100 were asked for.
        assert paginator.next_page(pages.next(40)) == NextPage(
            params={"offset": "40", "limit": "100"}
        )
        assert paginator.next_page(pages.next(40)) == NextPage(
            params={"offset": "80", "limit": "100"}
        )
        assert paginator.next_page(pages.next(0)) is None

    def test_custom_names_and_start(self) -> None:
        spec = OffsetPaginationSpec(
            type="offset", offset_param="skip", limit_param="take", page_size=None, start_offset=5
        )
        paginator = OffsetPaginator(spec)
        assert paginator.first_params() == {"skip": "5"}
        assert paginator.next_page(Pages().next(3)) == NextPage(params={"skip": "8"})

    def test_stop_on_short_page(self) -> None:
        spec = OffsetPaginationSpec(type="offset", page_size=10, stop_on_short_page=True)
        paginator = OffsetPaginator(spec)
        pages = Pages()
        assert paginator.next_page(pages.next(10)) is not None
        assert paginator.next_page(pages.next(9)) is None

    def test_short_page_does_not_stop_by_default(self) -> None:
        paginator = OffsetPaginator(OffsetPaginationSpec(type="offset", page_size=10))
        assert paginator.next_page(Pages().next(9)) is not None


class TestPageNumber:
    def test_advances_by_one(self) -> None:
        paginator = PageNumberPaginator(PageNumberPaginationSpec(type="page_number", page_size=50))
        pages = Pages()
        assert paginator.first_params() == {"page": "1", "per_page": "50"}
        assert paginator.next_page(pages.next(50)) == NextPage(
            params={"page": "2", "per_page": "50"}
        )
        assert paginator.next_page(pages.next(50)) == NextPage(
            params={"page": "3", "per_page": "50"}
        )

    def test_start_page_zero_and_no_size_param(self) -> None:
        spec = PageNumberPaginationSpec(type="page_number", start_page=0, size_param=None)
        paginator = PageNumberPaginator(spec)
        assert paginator.first_params() == {"page": "0"}
        assert paginator.next_page(Pages().next(3)) == NextPage(params={"page": "1"})

    def test_stop_on_short_page(self) -> None:
        spec = PageNumberPaginationSpec(type="page_number", page_size=10, stop_on_short_page=True)
        assert PageNumberPaginator(spec).next_page(Pages().next(3)) is None


class TestSharedStopRules:
    def test_empty_page_stops(self) -> None:
        paginator = PageNumberPaginator(PageNumberPaginationSpec(type="page_number"))
        assert paginator.next_page(Pages().next(0)) is None

    def test_total_in_the_body(self) -> None:
        spec = PageNumberPaginationSpec(type="page_number", total_path="meta.total")
        paginator = PageNumberPaginator(spec)
        pages = Pages()
        body = {"meta": {"total": 5}}
        assert paginator.next_page(pages.next(3, body=body)) is not None
        assert paginator.next_page(pages.next(2, body=body)) is None

    def test_total_in_a_header_case_insensitive(self) -> None:
        spec = OffsetPaginationSpec(type="offset", total_header="X-Total-Count")
        paginator = OffsetPaginator(spec)
        pages = Pages()
        assert paginator.next_page(pages.next(3, headers={"x-total-count": "6"})) is not None
        assert paginator.next_page(pages.next(3, headers={"x-total-count": "6"})) is None

    @pytest.mark.parametrize("total", [None, "many", True, {"n": 1}])
    def test_unusable_total_is_ignored(self, total: Any) -> None:
        spec = PageNumberPaginationSpec(type="page_number", total_path="total")
        paginator = PageNumberPaginator(spec)
        assert paginator.next_page(Pages().next(3, body={"total": total})) is not None

    @pytest.mark.parametrize(
        ("spec_limit", "caller_limit", "pages_read"),
        [(None, None, 10), (3, None, 3), (None, 2, 2), (3, 5, 3), (5, 2, 2)],
    )
    def test_page_limit_lower_one_wins(
        self, spec_limit: int | None, caller_limit: int | None, pages_read: int
    ) -> None:
        spec = PageNumberPaginationSpec(type="page_number", max_pages=spec_limit)
        paginator = PageNumberPaginator(spec, caller_limit)
        pages = Pages()
        read = 1
        while read < 10 and paginator.next_page(pages.next(5)) is not None:
            read += 1
        assert read == pages_read

    def test_identical_consecutive_pages_are_an_error(self) -> None:
        paginator = OffsetPaginator(OffsetPaginationSpec(type="offset"))
        pages = Pages()
        assert paginator.next_page(pages.next(5, content_hash=42)) is not None
        with pytest.raises(PaginationError, match="page 2 is identical to page 1"):
            paginator.next_page(pages.next(5, content_hash=42))

    def test_identical_but_not_consecutive_pages_are_fine(self) -> None:
        paginator = OffsetPaginator(OffsetPaginationSpec(type="offset"))
        pages = Pages()
        for content_hash in (1, 2, 1, 2):
            assert paginator.next_page(pages.next(5, content_hash=content_hash)) is not None


class TestCursor:
    def test_cursor_from_the_body(self) -> None:
        spec = CursorPaginationSpec(
            type="cursor", cursor_path="meta.next", size_param="limit", page_size=20
        )
        paginator = CursorPaginator(spec)
        pages = Pages()
        assert paginator.first_params() == {"limit": "20"}
        page = pages.next(2, body={"data": [1, 2], "meta": {"next": "c2"}})
        assert paginator.next_page(page) == NextPage(params={"cursor": "c2", "limit": "20"})
        page = pages.next(2, body={"data": [3, 4], "meta": {"next": 17}})
        assert paginator.next_page(page) == NextPage(params={"cursor": "17", "limit": "20"})

    @pytest.mark.parametrize(
        "last",
        [{"meta": {"next": None}}, {"meta": {}}, {"meta": {"next": ""}}, {"meta": {"next": False}}],
    )
    def test_missing_cursor_stops(self, last: dict[str, Any]) -> None:
        paginator = CursorPaginator(CursorPaginationSpec(type="cursor", cursor_path="meta.next"))
        assert paginator.next_page(Pages().next(2, body={"data": [1, 2], **last})) is None

    def test_cursor_from_a_header(self) -> None:
        spec = CursorPaginationSpec(
            type="cursor", cursor_header="X-Next-Cursor", cursor_param="after"
        )
        paginator = CursorPaginator(spec)
        pages = Pages()
        assert paginator.first_params() == {}
        page = pages.next(2, headers={"x-next-cursor": "abc"})
        assert paginator.next_page(page) == NextPage(params={"after": "abc"})
        assert paginator.next_page(pages.next(2)) is None

    def test_repeated_cursor_is_an_error(self) -> None:
        paginator = CursorPaginator(CursorPaginationSpec(type="cursor", cursor_path="next"))
        pages = Pages()
        assert paginator.next_page(pages.next(1, body={"next": "a"})) is not None
        assert paginator.next_page(pages.next(1, body={"next": "b"})) is not None
        with pytest.raises(PaginationError, match="'a' came back again after page 3"):
            paginator.next_page(pages.next(1, body={"next": "a"}))

    def test_cursor_that_is_an_object_is_an_error(self) -> None:
        paginator = CursorPaginator(CursorPaginationSpec(type="cursor", cursor_path="next"))
        with pytest.raises(PaginationError, match="point cursor_path at the cursor itself"):
            paginator.next_page(Pages().next(1, body={"next": {"id": 1}}))

    def test_long_cursor_is_shortened_in_the_message(self) -> None:
        paginator = CursorPaginator(CursorPaginationSpec(type="cursor", cursor_path="next"))
        pages = Pages()
        cursor = "c" * 500
        paginator.next_page(pages.next(1, body={"next": cursor}))
        with pytest.raises(PaginationError) as caught:
            paginator.next_page(pages.next(1, body={"next": cursor}))
        assert cursor not in str(caught.value)


def _link_paginator(**fields: Any) -> LinkHeaderPaginator:
    return LinkHeaderPaginator(LinkHeaderPaginationSpec(type="link_header", **fields), ORIGIN)


def _next_url_paginator(**fields: Any) -> NextUrlPaginator:
    return NextUrlPaginator(NextUrlPaginationSpec(type="next_url", **fields), ORIGIN)


class TestLinkHeader:
    def test_follows_rel_next(self) -> None:
        link = f'<{BASE}/items?page=1>; rel="prev", <{BASE}/items?page=3>; rel="next"'
        page = Pages().next(2, headers={"Link": link}, url=f"{BASE}/items?page=2")
        assert _link_paginator().next_page(page) == NextPage(url=f"{BASE}/items?page=3")

    def test_configured_relation_in_a_rel_list(self) -> None:
        link = f'<{BASE}/items?p=9>; rel="last", <{BASE}/items?p=2>; rel="NEXT-PAGE alternate"'
        page = Pages().next(2, headers={"link": link})
        assert _link_paginator(rel="next-page").next_page(page) == NextPage(url=f"{BASE}/items?p=2")

    def test_relative_link_is_resolved_against_the_page_url(self) -> None:
        page = Pages().next(
            2, headers={"Link": '<?page=2>; rel="next"'}, url=f"{BASE}/items?page=1"
        )
        assert _link_paginator().next_page(page) == NextPage(url=f"{BASE}/items?page=2")

    def test_no_link_or_no_next_stops(self) -> None:
        pages = Pages()
        paginator = _link_paginator()
        assert paginator.next_page(pages.next(2)) is None
        page = pages.next(2, headers={"Link": f'<{BASE}/items?page=1>; rel="first"'})
        assert paginator.next_page(page) is None

    def test_link_to_the_page_just_read_is_a_loop(self) -> None:
        url = f"{BASE}/items?page=1"
        page = Pages().next(2, headers={"Link": f'<{url}>; rel="next"'}, url=url)
        with pytest.raises(PaginationError, match="already read"):
            _link_paginator().next_page(page)

    def test_link_back_to_an_earlier_page_is_a_loop(self) -> None:
        paginator = _link_paginator()
        pages = Pages()
        first, second = f"{BASE}/items?page=1", f"{BASE}/items?page=2"
        page = pages.next(2, headers={"Link": f'<{second}>; rel="next"'}, url=first)
        assert paginator.next_page(page) == NextPage(url=second)
        page = pages.next(2, headers={"Link": f'<{first}>; rel="next"'}, url=second)
        with pytest.raises(PaginationError, match="looping"):
            paginator.next_page(page)

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example.net/v1/items?page=2",
            "http://api.example.com/v1/items?page=2",
            "https://api.example.com:8443/v1/items?page=2",
            "//evil.example.net/items",
            "https://api.example.com@evil.example.net/items",
        ],
        ids=["other-host", "https-to-http", "other-port", "scheme-relative", "userinfo-trick"],
    )
    def test_foreign_origin_is_refused(self, target: str) -> None:
        page = Pages().next(2, headers={"Link": f'<{target}>; rel="next"'})
        with pytest.raises(PaginationError, match="another host"):
            _link_paginator().next_page(page)

    def test_same_origin_with_explicit_default_port_and_other_case(self) -> None:
        target = "https://API.Example.com:443/v1/items?page=2"
        page = Pages().next(2, headers={"Link": f'<{target}>; rel="next"'})
        assert _link_paginator().next_page(page) == NextPage(url=target)


class TestNextUrl:
    def test_absolute_next_url(self) -> None:
        body = {"data": [1], "next": f"{BASE}/items?after=x"}
        page = Pages().next(1, body=body)
        assert _next_url_paginator().next_page(page) == NextPage(url=f"{BASE}/items?after=x")

    def test_relative_next_url_at_a_custom_path(self) -> None:
        body = {"data": [1], "links": {"next": "/v1/items?after=y"}}
        page = Pages().next(1, body=body, url=f"{BASE}/items")
        paginator = _next_url_paginator(next_url_path="links.next")
        assert paginator.next_page(page) == NextPage(url=f"{BASE}/items?after=y")

    @pytest.mark.parametrize("value", [None, "", 5, ["x"]])
    def test_no_usable_next_url_stops(self, value: Any) -> None:
        page = Pages().next(1, body={"data": [1], "next": value})
        assert _next_url_paginator().next_page(page) is None

    def test_foreign_next_url_is_refused_and_names_the_host(self) -> None:
        page = Pages().next(1, body={"next": "https://other.invalid/items?page=2", "data": [1]})
        with pytest.raises(PaginationError, match=r"\(other\.invalid\)"):
            _next_url_paginator().next_page(page)

    def test_next_url_equal_to_the_current_url_is_a_loop(self) -> None:
        url = f"{BASE}/items?after=x"
        page = Pages().next(1, body={"next": url, "data": [1]}, url=url)
        with pytest.raises(PaginationError, match="already read"):
            _next_url_paginator().next_page(page)


def test_same_origin_and_origin_of() -> None:
    assert origin_of("https://API.example.com/x") == ("https", "api.example.com", 443)
    assert origin_of("http://localhost:8080") == ("http", "localhost", 8080)
    assert same_origin("http://localhost:8080/a?b", ("http", "localhost", 8080))
    assert not same_origin("http://localhost:8081/a", ("http", "localhost", 8080))


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (OffsetPaginationSpec(type="offset"), OffsetPaginator),
        (PageNumberPaginationSpec(type="page_number"), PageNumberPaginator),
        (CursorPaginationSpec(type="cursor", cursor_path="next"), CursorPaginator),
        (LinkHeaderPaginationSpec(type="link_header"), LinkHeaderPaginator),
        (NextUrlPaginationSpec(type="next_url"), NextUrlPaginator),
    ],
)
def test_create_paginator_picks_the_class_of_the_spec(spec: Any, kind: type[Paginator]) -> None:
    assert type(create_paginator(spec, BASE)) is kind
