"""The SSE decoder against the WHATWG event-stream rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill import ProtocolError
from rill.wire import ServerSentEvent, SSEDecoder


def decode_all(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.decode(chunk))
    events.extend(decoder.flush())
    return events


def test_data_lines_and_default_event_type() -> None:
    [event] = decode_all(b"data: hello\n\n")
    assert (event.event, event.data, event.id) == ("message", "hello", "")


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    body = b"event: a" + eol + b"data: 1" + eol + b"data: 2" + eol + eol + b"data: 3" + eol + eol
    events = decode_all(body)
    assert [(e.event, e.data) for e in events] == [("a", "1\n2"), ("message", "3")]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    events = decode_all(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")
    assert [e.data for e in events] == ["a", "b"]


def test_empty_chunk_between_cr_and_lf() -> None:
    events = decode_all(b"data\r", b"", b"\ndata\r\n\r\n")
    assert [e.data for e in events] == ["\n"]


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = decode_all(b": keep-alive\n\n: OPENROUTER PROCESSING\nfoo: bar\ndata: x\n\n")
    assert [e.data for e in events] == ["x"]


def test_field_without_colon_and_without_space() -> None:
    events = decode_all(b"data\n\ndata:no-space\n\ndata:  two spaces\n\n")
    assert [e.data for e in events] == ["", "no-space", " two spaces"]


def test_id_persists_and_nul_id_is_ignored() -> None:
    events = decode_all(b"id: 7\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [e.id for e in events] == ["7", "7", "7"]


def test_ids_are_per_event_within_one_chunk() -> None:
    events = decode_all(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n")
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("1", "b"), ("2", "c")]


def test_last_event_id_is_what_a_reconnecting_client_sends() -> None:
    decoder = SSEDecoder()
    decoder.decode(b"id: 41\ndata: a\n\nid: 42\ndata: b\n\n")
    assert decoder.last_event_id == "42"


def test_retry_only_digits() -> None:
    decoder = SSEDecoder()
    decoder.decode(b"retry: 1500\n\nretry: soon\n\n")
    assert decoder.retry == 1500


def test_event_type_resets_without_data() -> None:
    events = decode_all(b"event: ping\n\ndata: x\n\n")
    assert [(e.event, e.data) for e in events] == [("message", "x")]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_leading_bom_is_dropped_even_when_split(split: int) -> None:
    body = b"\xef\xbb\xbfdata: x\n\n"
    assert [e.data for e in decode_all(body[:split], body[split:])] == ["x"]


def test_bom_only_at_stream_start() -> None:
    [event] = decode_all(b"data: \xef\xbb\xbfx\n\n")
    assert event.data == "\ufeffx"


def test_unicode_line_separators_are_data() -> None:
    text = "a\u2028b\u0085c\u2029d\x0be\x0cf"
    [event] = decode_all(b"data: " + text.encode() + b"\n\n")
    assert event.data == text


def test_utf8_split_inside_a_character() -> None:
    body = "data: 😊 é\n\n".encode()
    for i in range(len(body)):
        assert [e.data for e in decode_all(body[:i], body[i:])] == ["😊 é"]


def test_invalid_utf8_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="UTF-8"):
        decode_all(b"data: \xff\xfe\n\n")


def test_final_event_without_blank_line_is_delivered() -> None:
    assert [e.data for e in decode_all(b"data: [DONE]\n")] == ["[DONE]"]


def test_cut_off_line_is_not_delivered() -> None:
    decoder = SSEDecoder()
    assert decoder.decode(b'data: {"a": 1\n\ndata: {"b"') == [ServerSentEvent('{"a": 1')]
    assert decoder.flush() == []
    assert decoder.truncated


lines = st.lists(
    st.one_of(
        st.text(
            alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]),
            max_size=20,
        ).map(lambda s: "data: " + s),
        st.sampled_from(["", ": comment", "event: x", "id: 1", "retry: 10", "data"]),
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(lines=lines, eol=st.sampled_from(["\n", "\r\n", "\r"]), data=st.data())
def test_any_split_gives_the_same_events(lines: list[str], eol: str, data: st.DataObject) -> None:
    body = (eol.join(lines) + eol + eol).encode()
    expected = decode_all(body)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert decode_all(*pieces) == expected


def test_events_before_a_bad_one_in_the_same_chunk_are_delivered_first() -> None:
    decoder = SSEDecoder()
    events = decoder.decode(b"data: good\n\ndata: \xff\xfe\n\ndata: never\n\n")
    assert [e.data for e in events] == ["good"]
    with pytest.raises(ProtocolError, match="UTF-8"):
        decoder.decode(b"")
    with pytest.raises(ProtocolError, match="UTF-8"):
        decoder.flush()


def test_events_before_an_oversized_one_in_the_same_chunk_are_delivered_first() -> None:
    decoder = SSEDecoder(max_event_size=64)
    raw = decoder.decode_raw(b"data: ok\n\ndata: " + b"x" * 100 + b"\n\ndata: after\n\n")
    assert raw == [b"ok"]
    with pytest.raises(ProtocolError, match="max_event_bytes"):
        decoder.decode_raw(b"data: more\n\n")
