"""What the verify page shows of a checked evidence package: its summary from the manifest
(:func:`summarize_package`) and its findings translated into the reader's language (:func:`present_findings`).

Everything here that came from the package is hostile: any JSON type where a text is expected, any length,
control characters. A value of the wrong type is shown as missing (None), a text is cut to
:data:`MAX_TEXT_CHARS` and escaped (:func:`storage.control_char.escape_control_chars`), a time that does not
parse as an aware ISO 8601 instant is missing. The page sets all of it as text, never as markup.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from console.i18n import Message
from storage.control_char import escape_control_chars
from storage.evidence.finding import PHRASE_PARAMS, FindingLevel
from storage.evidence.report import VerificationReport

MAX_TEXT_CHARS: Final = 200
MAX_CAMERAS: Final = 64  # a package holds one clip per camera; the rest are counted, not listed


class FindingPublic(BaseModel):
    level: FindingLevel
    code: str = Field(description="stable code of the finding (storage.evidence.finding.FINDING_TEMPLATES)")
    params: dict[str, str | int] = Field(description="its values, text from the package escaped")
    text: str = Field(description="the finding in the request's language")


class CameraRangePublic(BaseModel):
    camera_id: str | None
    camera_name: str | None
    start_utc: datetime | None = Field(description="the first moment the clip shows (UTC)")
    end_utc: datetime | None = Field(description="the last moment the clip shows (UTC)")


class PackageSummaryPublic(BaseModel):
    """What the manifest says about the package (signed only when the verdict says so)."""

    station_name: str | None
    key_fingerprint: str | None = Field(description="the key that signed it (else the manifest's claim)")
    station_key: bool = Field(description="the key is this station's pinned signing key")
    exported_by: str | None = Field(description="the user name of who exported it")
    exported_at_utc: datetime | None
    complaint_number: str | None
    cameras: list[CameraRangePublic] = Field(description=f"at most {MAX_CAMERAS}, one per clip")
    clip_count: int
    file_count: int
    total_bytes: int = Field(description="the sum of the listed files' sizes")


def present_findings(
    report: VerificationReport, translations: gettext.NullTranslations
) -> list[FindingPublic]:
    """The findings, errors first, then warnings, then the checks that passed, each translated."""
    order = {FindingLevel.ERROR: 0, FindingLevel.WARNING: 1, FindingLevel.PASSED: 2}
    shown: list[FindingPublic] = []
    for finding in sorted(report.findings, key=lambda item: order[item.level]):
        params = {
            name: escape_control_chars(value) if isinstance(value, str) else value
            for name, value in finding.params.items()
        }
        phrases = PHRASE_PARAMS.get(finding.code, ())
        values = {name: _phrase(value) if name in phrases else value for name, value in params.items()}
        text = Message(finding.template, **values).translate(translations)
        shown.append(FindingPublic(level=finding.level, code=finding.code, params=params, text=text))
    return shown


def _phrase(value: str | int) -> object:
    """A value that is an English phrase of ours (:data:`storage.evidence.finding.PHRASE_PARAMS`; each is in
    the catalogs, see :data:`storage.evidence.verifier.FIELD_TYPE_PHRASES`), as a message to translate."""
    return Message(value) if isinstance(value, str) else value


def summarize_package(
    report: VerificationReport, *, station_key_fingerprint: str
) -> PackageSummaryPublic | None:
    """The summary of a package whose manifest could be read (None: it could not)."""
    manifest = report.manifest
    if manifest is None:
        return None
    station = _section(manifest, "station")
    fingerprint = report.key_fingerprint or _text(station.get("public_key_fingerprint"))
    complaint = _section(manifest, "complaint")
    clips = _list(manifest.get("clips"))
    files = [entry for entry in _list(manifest.get("files")) if isinstance(entry, dict)]
    return PackageSummaryPublic(
        station_name=_text(station.get("name")),
        key_fingerprint=fingerprint,
        station_key=report.key_fingerprint == station_key_fingerprint,
        exported_by=_text(_section(manifest, "exported_by").get("username")),
        exported_at_utc=_instant(_section(manifest, "exported_at").get("utc")),
        complaint_number=_text(complaint.get("number")),
        cameras=[_camera_range(clip) for clip in clips[:MAX_CAMERAS]],
        clip_count=len(clips),
        file_count=len(files),
        total_bytes=sum(_size(entry.get("size")) for entry in files),
    )


def _camera_range(clip: object) -> CameraRangePublic:
    entry = clip if isinstance(clip, dict) else {}
    camera = _section(entry, "camera")
    actual = _section(entry, "actual")
    return CameraRangePublic(
        camera_id=_text(camera.get("id")),
        camera_name=_text(camera.get("name")),
        start_utc=_instant(actual.get("start_utc")),
        end_utc=_instant(actual.get("end_utc")),
    )


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: object) -> str | None:
    """A text or number from the package, escaped and cut short; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if len(text) > MAX_TEXT_CHARS:
        text = f"{text[:MAX_TEXT_CHARS]}…"
    return escape_control_chars(text)


def _instant(value: object) -> datetime | None:
    """An aware ISO 8601 instant from the package, in UTC (None when it is not one)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _size(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
