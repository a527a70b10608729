"""E-mail (.eml, .mbox) with the standard library's email package: one section per message.

Each message keeps its From, To, Cc, Date and Subject lines above its body (the plain-text part, else the
HTML part's text). A file is one document in the index, so a message's attachments are read by the
loader of their own format and indexed as sections of the message ("Attachment: report.pdf"); one
that cannot be read is named with the reason instead.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path

from engine.ingest.loaders.assemble import DocumentText
from engine.ingest.loaders.html import page_text
from engine.ingest.status import EMPTY, FAILED, LoadError
from engine.records import ParsedDocument

EXTENSIONS = frozenset({".eml", ".mbox"})
HEADERS = ("From", "To", "Cc", "Date", "Subject")
_MBOX_SEPARATOR = re.compile(rb"^From .*\r?\n", re.MULTILINE)
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)  # mboxrd quoting of body lines starting "From "
_MAX_ATTACHMENTS = 100  # per message
_MAX_FORWARD_DEPTH = 3  # messages forwarded inside forwarded messages


def load_mail(data: bytes, path: Path) -> ParsedDocument:
    if path.suffix.lower() == ".mbox":
        raw_messages = _mbox_messages(data)
        if not raw_messages:
            raise LoadError(FAILED, "not a mailbox: no line starts a message (\"From ...\")")
    else:
        raw_messages = [data]
    out = DocumentText()
    for raw in raw_messages:
        message = email.message_from_bytes(raw, policy=policy.default)
        if isinstance(message, EmailMessage):
            _add_message(out, message)
    subjects = [h.title for h in out.headings]
    title = subjects[0] if len(subjects) == 1 else path.stem
    return out.document("mbox" if path.suffix.lower() == ".mbox" else "eml", title, empty="no text in any message")


def _mbox_messages(data: bytes) -> list[bytes]:
    """The messages of an mbox: each starts at a line "From <sender> <date>" (mboxo and mboxrd)."""
    separators = list(_MBOX_SEPARATOR.finditer(data))
    ends = [*(match.start() for match in separators[1:]), len(data)]
    return [_ESCAPED_FROM.sub(rb"\1", data[match.end():end]) for match, end in zip(separators, ends, strict=True)]


def _add_message(out: DocumentText, message: EmailMessage, depth: int = 0) -> None:
    """The message as a section; a message forwarded as an attachment follows as a section of its own."""
    subject = _header(message, "Subject") or "(no subject)"
    out.heading(subject if not depth else f"Forwarded: {subject}", written=False)
    out.paragraph("\n".join(f"{name}: {value}" for name in HEADERS if (value := _header(message, name))))
    out.paragraph(_body(message))
    for count, part in enumerate(message.iter_attachments()):
        if count >= _MAX_ATTACHMENTS:
            out.paragraph(f"(and more attachments, past the first {_MAX_ATTACHMENTS} not read)")
            break
        forwarded = part.get_content() if part.get_content_type() == "message/rfc822" else None
        if isinstance(forwarded, EmailMessage):
            if depth < _MAX_FORWARD_DEPTH:
                _add_message(out, forwarded, depth + 1)
        else:
            _add_attachment(out, part, subject)


def _header(message: EmailMessage, name: str) -> str:
    return " ".join(str(message.get(name, "")).split())


def _body(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    text = _content(body)
    return page_text(text)[0] if body.get_content_subtype() == "html" else text


def _content(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _add_attachment(out: DocumentText, part: MIMEPart, subject: str) -> None:
    from engine.ingest.loaders import SUPPORTED_EXTENSIONS, load_attachment  # noqa: PLC0415 - imports this module

    name = Path(part.get_filename() or "").name
    if not name:
        return  # an inline part without a name: a signature, a calendar entry
    out.heading(f"Attachment: {name} ({subject})", written=False)
    out.paragraph(f"Attachment: {name}")
    payload = part.get_payload(decode=True)
    if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS or not isinstance(payload, bytes):
        return  # a picture, an archive: its name is all there is to find
    try:
        out.paragraph(load_attachment(payload, name).text)
    except LoadError as error:
        if error.status != EMPTY:
            out.paragraph(f"(not read: {error.reason})")
