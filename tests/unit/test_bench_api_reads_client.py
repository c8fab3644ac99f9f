"""bench/api_reads.py's raw HTTP/1.1 client: requests on one kept-alive connection, bodies read by
their Content-Length, a response without one refused (the bench must not time a half-read body)."""

from __future__ import annotations

import asyncio

import pytest

from bench.api_reads import KeepAliveConnection, content_length


async def _serve(answers: list[bytes], heads: list[bytes]) -> asyncio.Server:
    """A server answering each request of a connection with the next of ``answers``, recording
    every request head it read."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            try:
                heads.append(await reader.readuntil(b"\r\n\r\n"))
            except asyncio.IncompleteReadError:
                break
            writer.write(answer)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _response(status: int, body: bytes, length_header: bytes = b"Content-Length") -> bytes:
    return b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\n%s: %d\r\n\r\n%s" % (
        status,
        length_header,
        len(body),
        body,
    )


async def _ask(answers: list[bytes], paths: list[str]) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    heads: list[bytes] = []
    server = await _serve(answers, heads)
    port = server.sockets[0].getsockname()[1]
    async with server, KeepAliveConnection(f"http://127.0.0.1:{port}", {"Authorization": "Bearer hl_x"}) as client:
        results = [await client.get(path) for path in paths]
    return results, heads


def test_requests_share_one_connection_and_bodies_are_read_whole() -> None:
    first, second = b'{"a":"' + b"x" * 70_000 + b'"}', b"{}"
    answers = [_response(200, first), _response(404, second, b"CONTENT-LENGTH")]

    results, heads = asyncio.run(_ask(answers, ["/households/1", "/households/2/bills"]))

    assert results == [(200, first), (404, second)]
    assert [head.split(b"\r\n")[0] for head in heads] == [
        b"GET /households/1 HTTP/1.1",
        b"GET /households/2/bills HTTP/1.1",
    ]
    assert all(b"\r\nAuthorization: Bearer hl_x\r\n" in head and b"\r\nHost: 127.0.0.1:" in head for head in heads)


def test_a_response_without_content_length_is_refused() -> None:
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"

    with pytest.raises(AssertionError, match="without Content-Length"):
        asyncio.run(_ask([chunked], ["/households/1"]))


def test_content_length_is_found_by_any_case() -> None:
    assert content_length(b"content-type: application/json\r\nContent-length: 12") == 12
    with pytest.raises(AssertionError):
        content_length(b"content-length: 99999999999")
