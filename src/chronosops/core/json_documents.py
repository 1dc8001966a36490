"""Reading a JSON document from bytes the way every entry point does: the API's bodies, the
webhooks' payloads, the console's pasted requests and ``chronosops ingest``'s files.

A key named twice, a constant JSON does not have (``NaN``, ``Infinity``), and what storage
cannot hold (`core.storable`) are refused with their place, so that a document is accepted or
refused alike whichever way it came in, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from chronosops.core.errors import FieldError, InvalidInputError
from chronosops.core.storable import (
    NotFiniteError,
    finite_float,
    plainly_storable,
    unstorable,
)

MALFORMED = "Malformed JSON body"


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
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
_DECODER = json.JSONDecoder(parse_constant=reject_constant, object_pairs_hook=unique_keys)
_PLAIN_DECODER = json.JSONDecoder(
    parse_constant=reject_constant, object_pairs_hook=unique_keys, parse_float=finite_float
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
