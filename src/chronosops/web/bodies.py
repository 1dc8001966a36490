"""Reading JSON request bodies: media type, syntax, and what storage can hold, as 4xx errors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.storable import (
    NotFiniteError,
    finite_float,
    plainly_storable,
    unstorable,
)
from chronosops.web.errors import UnsupportedMediaTypeError

MALFORMED = "Malformed JSON body"


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # "Last one wins" would let two readers of the same body (a signature check, a proxy, this
    # service) see different documents: a body that says one thing twice is refused instead.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise DuplicateKeyError(key)
        document[key] = value
    return document


# ``json.loads`` with these arguments, its decoders made once: it builds one (and its scanner)
# on every call that passes any.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
_PLAIN_DECODER = json.JSONDecoder(
    parse_constant=_reject_constant, object_pairs_hook=_unique_keys, parse_float=finite_float
)


def _loads(raw: bytes, decoder: json.JSONDecoder) -> Any:
    """``json.loads(raw, …)`` with ``decoder``'s arguments: the text decoded as it decodes bytes."""
    return decoder.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


def parse_json(raw: bytes) -> Any:
    """The document in ``raw``, or `InvalidInputError` saying what is wrong with it."""
    # Most bodies are small and plain: their bytes say there is nothing `unstorable` would
    # find, but for a number beyond a double, which stops the parse. The others are walked.
    plain = plainly_storable(raw)
    try:
        try:
            document = _loads(raw, _PLAIN_DECODER if plain else _DECODER)
        except NotFiniteError:
            plain = False
            document = _loads(raw, _DECODER)
    except DuplicateKeyError as exc:
        raise InvalidInputError(
            f"Duplicate key {exc.key!r} in the JSON body",
            [FieldError(exc.key, "duplicate key: an object names it more than once")],
        ) from None
    except RecursionError:
        raise InvalidInputError(MALFORMED, [FieldError("", "nested too deeply")]) from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError(MALFORMED, [FieldError("", f"not valid JSON: {exc}")]) from None
    problem = None if plain else unstorable(document)
    if problem is not None:
        raise InvalidInputError("Invalid request body", [problem])
    return document


async def read_json(request: Request, *, require_json_type: bool = True) -> tuple[bytes, Any]:
    """The raw body and its JSON document. Vendor webhooks may label JSON as anything."""
    if require_json_type and not is_json(request.headers.get("content-type")):
        raise UnsupportedMediaTypeError(
            "Unsupported media type: send the body as application/json",
            [FieldError("Content-Type", "must be application/json")],
        )
    raw = await request.body()
    return raw, parse_json(raw)
