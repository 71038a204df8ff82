"""``connectory records ...``: a collection's records, locally or on a server's connection.

Locally: ``connectory records list CONNECTOR COLLECTION --credentials FILE``. On a stored
connection: ``connectory records list COLLECTION --connection ID`` (CONNECTORY_URL and
CONNECTORY_TOKEN set). Records print as JSON Lines on stdout (one record per line), progress
and diagnostics on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from connectory.cli.options import (
    DEFAULT_SERVER,
    BaseUrl,
    Config,
    Connection,
    ConnectorParameters,
    Credentials,
    Params,
    Server,
    Token,
)
from connectory.cli.output import ProgressLine
from connectory.cli.values import parse_pairs, read_local_values, require_token
from connectory.errors import InputError

records_app = typer.Typer(
    help="Read and write a collection's records (list, get, match, search, create, update, "
    "delete).",
    no_args_is_help=True,
)

Target = Annotated[
    str,
    typer.Argument(
        help="A connector (file or folder); with --connection, the collection's key.",
        show_default=False,
    ),
]
CollectionKey = Annotated[
    str | None, typer.Argument(help="The collection's key (local use).", show_default=False)
]
#: Locally ``KEY ID`` (the collection, then the record); with --connection, ``ID``.
KeyOrId = Annotated[str, typer.Argument(help="KEY ID locally; ID with --connection.")]
RecordId = Annotated[str | None, typer.Argument(show_default=False)]
FieldPairs = Annotated[
    list[str] | None,
    typer.Option("--field", "-f", help="A field as name=value (JSON values allowed: 5, true)."),
]
FieldsJson = Annotated[str | None, typer.Option("--fields", help="All fields as one JSON object.")]


class _Where:
    """Where the collection is: a local connector with credentials, or a server connection."""

    def __init__(self, target: str, key: str | None, options: dict[str, Any]) -> None:
        self.options = options
        if options["connection"] is not None:
            if key is not None:
                raise InputError("with --connection, give only the collection's key")
            require_token(options["token"])
            self.key = target
            self.path: str | None = None
        else:
            if key is None:
                raise InputError("give the connector and the collection: records list PATH KEY")
            self.key = key
            self.path = target

    def run(self, action: Callable[[Any], Awaitable[None]]) -> None:
        """Open the collection and run *action* on it."""
        asyncio.run(self._run(action))

    async def _run(self, action: Callable[[Any], Awaitable[None]]) -> None:
        if self.path is None:
            from connectory.remote import Server

            async with Server(self.options["server"], self.options["token"]) as server:
                await action(server.connection(self.options["connection"]).collection(self.key))
            return
        from connectory.runtime import ConnectorClient
        from connectory.spec import load_connector

        options = self.options
        spec = load_connector(Path(self.path))
        async with ConnectorClient(
            spec,
            **read_local_values(
                options["credentials"], options["connector_parameters"], options["config"]
            ),
            base_url=options["base_url"],
        ) as client:
            await action(client.collection(self.key))


def _where(target: str, key: str | None, **options: Any) -> _Where:
    return _Where(target, key, options)


def _fields(pairs: list[str] | None, fields_json: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if fields_json is not None:
        try:
            data = orjson.loads(fields_json)
        except orjson.JSONDecodeError:
            raise InputError(
                '--fields must be a JSON object, e.g. \'{"email": "a@b.c"}\''
            ) from None
        if not isinstance(data, dict):
            raise InputError("--fields must be a JSON object of field names to values")
        fields.update(data)
    for name, text in parse_pairs(pairs or []).items():
        try:
            fields[name] = orjson.loads(text)
        except orjson.JSONDecodeError:
            fields[name] = text  # plain text: -f name=Ada
    return fields


def _print_record(record: Any) -> None:
    sys.stdout.write(
        orjson.dumps(record.to_dict(include_raw=record.raw is not None)).decode() + "\n"
    )


def _guard(action: Callable[[], None]) -> None:
    from connectory.cli.app import guard

    guard(action)


@records_app.command("list")
def list_records(
    target: Target,
    key: CollectionKey = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="A filter as name=value.")
    ] = None,
    param: Params = None,
    page_size: Annotated[int | None, typer.Option("--page-size", min=1)] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Resume from a cursor.")] = None,
    one_page: Annotated[
        bool, typer.Option("--one-page", help="Print one page as {records, cursor} JSON.")
    ] = False,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """List records: every page as JSON Lines (or one page with --one-page)."""

    def run() -> None:
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip
        filters = parse_pairs(filter_ or [])
        parameters = parse_pairs(param or [])

        async def action(collection: Any) -> None:
            if one_page:
                page = await collection.list_page(
                    filters=filters, parameters=parameters, cursor=cursor, page_size=page_size
                )
                sys.stdout.write(orjson.dumps(page.to_dict()).decode() + "\n")
                return
            progress = ProgressLine()
            out = sys.stdout.buffer
            count = 0
            options: dict[str, Any] = {
                "filters": filters,
                "parameters": parameters,
                "cursor": cursor,
                "page_size": page_size,
            }
            if where.path is None:  # a server paces the read and says when it waits
                options["on_wait"] = progress.waiting
            async for record in collection.list(**options):
                out.write(orjson.dumps(record.to_dict()) + b"\n")
                count += 1
                progress.count(count, "record(s)")
            out.flush()
            progress.count(count, "record(s)", force=True)

        where.run(action)

    _guard(run)


@records_app.command("get")
def get_record(
    target: Target,
    key_or_id: KeyOrId,
    record_id: RecordId = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Print one record by id."""

    def run() -> None:
        key, the_id = _key_and_id(connection, key_or_id, record_id)
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip

        async def action(collection: Any) -> None:
            _print_record(await collection.find_by_id(the_id, parameters=parse_pairs(param or [])))

        where.run(action)

    _guard(run)


@records_app.command("match")
def match_record(
    target: Target,
    key: CollectionKey = None,
    field: FieldPairs = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Print the one record whose fields equal -f name=value (nothing when none matches)."""

    def run() -> None:
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip

        async def action(collection: Any) -> None:
            found = await collection.match(
                _fields(field, None), parameters=parse_pairs(param or [])
            )
            if found is not None:
                _print_record(found)

        where.run(action)

    _guard(run)


@records_app.command("search")
def search_records(
    target: Target,
    key_or_query: Annotated[
        str, typer.Argument(help="KEY QUERY locally; QUERY with --connection.")
    ],
    query: Annotated[str | None, typer.Argument(show_default=False)] = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Print the records the API finds for a text query, as JSON Lines."""

    def run() -> None:
        key, text = _key_and_id(connection, key_or_query, query)
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip

        async def action(collection: Any) -> None:
            for record in await collection.search(text, parameters=parse_pairs(param or [])):
                _print_record(record)

        where.run(action)

    _guard(run)


@records_app.command("create")
def create_record(
    target: Target,
    key: CollectionKey = None,
    field: FieldPairs = None,
    fields_json: FieldsJson = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Create a record from -f name=value (or --fields JSON); checked before it is sent."""

    def run() -> None:
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip
        fields = _fields(field, fields_json)

        async def action(collection: Any) -> None:
            _print_record(await collection.create(fields, parameters=parse_pairs(param or [])))

        where.run(action)

    _guard(run)


@records_app.command("update")
def update_record(
    target: Target,
    key_or_id: KeyOrId,
    record_id: RecordId = None,
    field: FieldPairs = None,
    fields_json: FieldsJson = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Change some fields of a record (partial update)."""

    def run() -> None:
        key, the_id = _key_and_id(connection, key_or_id, record_id)
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip
        fields = _fields(field, fields_json)

        async def action(collection: Any) -> None:
            _print_record(
                await collection.update(the_id, fields, parameters=parse_pairs(param or []))
            )

        where.run(action)

    _guard(run)


@records_app.command("delete")
def delete_record(
    target: Target,
    key_or_id: KeyOrId,
    record_id: RecordId = None,
    param: Params = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
) -> None:
    """Delete a record."""

    def run() -> None:
        key, the_id = _key_and_id(connection, key_or_id, record_id)
        where = _where(
            target, key, connection=connection, server=server, token=token,
            credentials=credentials, connector_parameters=connector_parameters,
            config=config, base_url=base_url,
        )  # fmt: skip

        async def action(collection: Any) -> None:
            await collection.delete(the_id, parameters=parse_pairs(param or []))

        where.run(action)

    _guard(run)


def _key_and_id(connection: str | None, first: str, second: str | None) -> tuple[str | None, str]:
    """Locally ``KEY ID`` follow the connector; with --connection the key is the target."""
    if connection is not None:
        if second is not None:
            raise InputError("with --connection, give the collection's key and then the id")
        return None, first
    if second is None:
        raise InputError("give the connector, the collection's key and the id")
    return first, second
