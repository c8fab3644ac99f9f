"""A refused form as its page shows it: the API's own messages, beside the field they name.

Shared by the page areas (counter, billing, arrears, dunning, valves, reports): a form is read into
the API's schema, and a refusal of the schema or of the ledger is worded exactly as the API's
problem would word it, in the user's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from api.messages import Language, describe_error, render
from domain.errors import LedgerError


@dataclass
class FormErrors:
    """Why a form was refused: messages by field name, and those about the form as a whole."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def form_errors(error: ValidationError | LedgerError, language: Language, known_fields: Iterable[str]) -> FormErrors:
    """A refusal of the schema or the ledger as the form shows it: beside the field it names when
    the form has that field (the first message for it), above the form otherwise, so no message is
    lost. The messages are the API's, in ``language``."""
    known = frozenset(known_fields)
    found = FormErrors()
    for name, message in _messages(error, language):
        if name in known and name not in found.fields:
            found.fields[name] = message
        else:
            found.general.append(message)
    return found


def _messages(error: ValidationError | LedgerError, language: Language) -> list[tuple[str, str]]:
    if isinstance(error, LedgerError):
        return [(str(error.params.get("field", "")), describe_error(error, language))]
    return [_validation_message(item, language) for item in error.errors()]


def _validation_message(item: Mapping[str, Any], language: Language) -> tuple[str, str]:
    """A pydantic error as the API's problem words it (``validation.<type>`` of the catalogue)."""
    location = tuple(item.get("loc", ()))
    name = str(location[0]) if location else ""
    params = dict(item.get("ctx") or {})
    message = render([f"validation.{item.get('type', 'value_error')}"], params, language, str(item.get("msg", "")))
    return name, message


def filled(form: Mapping[str, Any], names: Iterable[str]) -> dict[str, str]:
    """The form's values for ``names``, trimmed, without the blank ones (the schema's defaults
    apply to a field left blank, as to a field a JSON body leaves out)."""
    values = {name: str(form.get(name, "") or "").strip() for name in names}
    return {name: value for name, value in values.items() if value}
