"""moto's XML answers (the query protocol: SQS behind the gateway, IAM, STS...) written at less CPU.

moto writes every XML answer with `xmltodict.unparse(body, full_document=False,
short_empty_elements=True)` (moto/core/serialize.py BaseXMLSerializer._serialize_body): per element,
namespace processing, name validation, an AttributesImpl and SAX XMLGenerator calls. For the SQS
SendMessage answer behind every `POST /submit` that was ~6% of the submit's CPU in the embedded AWS.

Most answers are nested dicts of strings with one `@xmlns` attribute; those are written here directly,
with what XMLGenerator writes for them (xml/sax/saxutils.py): `<name` and each attribute as
` name=quoteattr(value)`, an element without text or children closed as `/>` (short_empty_elements),
text through `escape()`, an empty text written as nothing. Anything else (lists, None, numbers,
booleans, other attributes or `#text` keys, a name that is not plainly an XML name, pretty printing)
is xmltodict's, whole. tests/test_local_moto_xml_answers.py compares the two.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .moto_patches import originals

# Names xmltodict's _validate_name accepts and that need no namespace processing (no ":").
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


class _NotPlain(Exception):
    """Not a body this module writes as xmltodict would: xmltodict writes it."""


def _element(name: str, value: Any, out: list[str]) -> None:
    if type(name) is not str or not _PLAIN_NAME.match(name):
        raise _NotPlain
    if type(value) is str:
        if value:
            out.append(f"<{name}>{escape(value)}</{name}>")
        else:
            out.append(f"<{name}/>")
        return
    if type(value) is not dict:
        raise _NotPlain
    attributes = ""
    children = []
    for key, item in value.items():
        if key == "@xmlns" and type(item) is str:
            attributes = f" xmlns={quoteattr(item)}"
        elif type(key) is str and key[:1] in ("@", "#"):
            raise _NotPlain
        else:
            children.append((key, item))
    if not children:
        out.append(f"<{name}{attributes}/>")
        return
    out.append(f"<{name}{attributes}>")
    for key, item in children:
        _element(key, item, out)
    out.append(f"</{name}>")


def plain_xml(body: Any) -> str | None:
    """What xmltodict.unparse(body, full_document=False, short_empty_elements=True) writes, or None."""
    if type(body) is not dict:
        return None
    out: list[str] = []
    try:
        for name, value in body.items():
            _element(name, value, out)
    except _NotPlain:
        return None
    return "".join(out)


def apply() -> None:
    """Once, from moto_patches.apply (under its lock); moto's own is kept in its `originals`."""
    from moto.core.serialize import BaseXMLSerializer

    if "BaseXMLSerializer._serialize_body" in originals:
        return
    unparse = originals["BaseXMLSerializer._serialize_body"] = BaseXMLSerializer._serialize_body

    def serialize_body(self: Any, body: Any) -> str:
        if not self.pretty_print:
            written = plain_xml(body)
            if written is not None:
                return written
        return unparse(self, body)  # type: ignore[no-any-return]

    BaseXMLSerializer._serialize_body = serialize_body  # type: ignore[method-assign]
