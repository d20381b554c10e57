"""The result of checking an evidence package: its :class:`Verdict` and the :class:`VerificationReport`
that says what was checked and what is wrong.

Each check's result is a :class:`~storage.evidence.finding.Finding` (a code and its values);
:attr:`VerificationReport.errors`, ``warnings`` and ``passed`` are their English sentences.

The verdict has three values. ``INVALID``: something is wrong. ``SIGNER_UNKNOWN``: the package is intact and
consistently signed, but by a key nobody vouched for: anyone can make such a package with a key of their
own, so it proves nothing about who made it. ``VALID``: intact and signed by a trusted key. Everything a
report shows that came from the package is escaped (:func:`storage.control_char.escape_control_chars`): a
station name cannot print a verdict of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from storage.control_char import escape_control_chars
from storage.evidence.finding import Finding, FindingLevel


class Verdict(StrEnum):
    VALID = "valid"  # intact and signed by a trusted key
    SIGNER_UNKNOWN = "signer_unknown"  # intact and consistently signed, by a key nobody trusts
    INVALID = "invalid"  # something is wrong (the errors say what)


@dataclass
class VerificationReport:
    """What was checked and what is wrong.

    ``intact``: no errors. ``valid``: intact and signed by a trusted key (:attr:`verdict` is ``VALID``).
    The findings and their messages are raw (they may hold text from the package): show them through
    :meth:`render` or :func:`storage.control_char.escape_control_chars`.
    """

    path: Path
    findings: list[Finding] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    key_fingerprint: str | None = None
    signer_trusted: bool = False

    def add(self, level: FindingLevel, code: str, **params: object) -> None:
        self.findings.append(Finding.of(level, code, **params))

    def error(self, code: str, **params: object) -> None:
        self.add(FindingLevel.ERROR, code, **params)

    def warning(self, code: str, **params: object) -> None:
        self.add(FindingLevel.WARNING, code, **params)

    def passing(self, code: str, **params: object) -> None:
        self.add(FindingLevel.PASSED, code, **params)

    def messages(self, level: FindingLevel) -> list[str]:
        """The English sentences of the findings of one level, in the order found."""
        return [finding.message for finding in self.findings if finding.level is level]

    @property
    def errors(self) -> list[str]:
        return self.messages(FindingLevel.ERROR)

    @property
    def warnings(self) -> list[str]:
        return self.messages(FindingLevel.WARNING)

    @property
    def passed(self) -> list[str]:
        return self.messages(FindingLevel.PASSED)

    @property
    def intact(self) -> bool:
        return not any(finding.level is FindingLevel.ERROR for finding in self.findings)

    @property
    def verdict(self) -> Verdict:
        if not self.intact:
            return Verdict.INVALID
        return Verdict.VALID if self.signer_trusted else Verdict.SIGNER_UNKNOWN

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def verdict_line(self) -> str:
        verdict = self.verdict
        if verdict is Verdict.VALID:
            return "result: VALID"
        if verdict is Verdict.INVALID:
            return f"result: INVALID ({len(self.errors)} problem(s))"
        return (
            f"result: SIGNER UNKNOWN (signature valid, but key {self.key_fingerprint} "
            "is not a trusted station key)"
        )

    def render(self) -> str:
        """The report for a terminal, one check a line, the verdict last; text from the package escaped."""
        lines = [f"package: {self.path}"]
        if self.manifest is not None:
            lines.extend(_summary(self.manifest))
        lines.extend(f"  OK    {line}" for line in self.passed)
        lines.extend(f"  WARN  {line}" for line in self.warnings)
        lines.extend(f"  FAIL  {line}" for line in self.errors)
        lines.append(self.verdict_line())
        return "\n".join(escape_control_chars(line) for line in lines)


def _section(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    value = manifest.get(name)
    return value if isinstance(value, dict) else {}


def _summary(manifest: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    station = _section(manifest, "station")
    by = _section(manifest, "exported_by")
    at = _section(manifest, "exported_at")
    lines.append(f"station: {station.get('name')} (key {station.get('public_key_fingerprint')})")
    lines.append(f"exported: {at.get('local')} by {by.get('username')} (user {by.get('user_id')})")
    complaint = manifest.get("complaint")
    if isinstance(complaint, dict):
        lines.append(f"complaint: {complaint.get('number')} (id {complaint.get('id')})")
    lines.append(f"reason: {manifest.get('reason')}")
    clips = manifest.get("clips")
    for clip in clips if isinstance(clips, list) else []:
        if isinstance(clip, dict):
            actual = _section(clip, "actual")
            camera = _section(clip, "camera")
            lines.append(
                f"clip: {clip.get('file')} camera {camera.get('id')} ({camera.get('name')}) "
                f"{actual.get('start_local')} .. {actual.get('end_local')}"
            )
    return lines
