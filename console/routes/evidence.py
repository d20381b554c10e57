"""Evidence integrity in the console: the station's public key, and verifying a package someone brings back.

``POST /api/evidence/verify`` takes the ZIP as a multipart upload, checks it with
:func:`storage.evidence.verify_package`, trusting this station's key only, audits the check, and answers
exactly what is wrong: each finding with its stable ``code``, its values and its ``text`` in the request's
language, and a ``summary`` of what the manifest says (:mod:`console.package_summary`). Its ``verdict`` is
``valid`` only for a package of this station; an intact package signed by any other key is
``signer_unknown`` (anyone can sign a package with a key of their own), and the check cannot be relaxed.
Text from the package comes back with its control characters escaped. The same check is
``station verify PACKAGE.zip``. The upload is written once: the form parser spools it to a temporary file
(in ``$TMPDIR``), and the check reads that file where it lies. Its size is
capped by ``console.max_upload_mb`` before any of it is read (:mod:`console.body_limit`).

The check runs in a worker process (:class:`console.verify_worker.VerifyWorker`): a few at a time (else 429
``verify_busy``), each under a time limit (else 422 ``verify_timeout``). A hostile package is answered with
what is wrong with it (``invalid``, or 422 ``not_a_package``), never with a server error. A spool that hits a
full disk (while the form is parsed, or when an upload held in memory is written out for the worker) answers
507 ``insufficient_storage`` with ``Retry-After`` (:func:`console.error.insufficient_storage_error`); the
spool is an unnamed temporary file, so nothing of it stays on the disk.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from console.deps import CurrentUser, LanguageDep, PageUser, SessionDep, StationDep, audit_as
from console.package_summary import FindingPublic, PackageSummaryPublic, present_findings, summarize_package
from console.page import render_page
from console.station import Station
from storage.control_char import escape_control_chars
from storage.evidence.report import Verdict, VerificationReport

router = APIRouter(tags=["evidence"])

VERIFY_PATH: Final = "/api/evidence/verify"  # an upload: its body cap is console.max_upload_mb


class StationKeyPublic(BaseModel):
    fingerprint: str
    public_key_pem: str


class VerificationPublic(BaseModel):
    verdict: Verdict = Field(
        description="valid: intact and signed by this station; signer_unknown: intact and consistently "
        "signed, but not by this station's key; invalid: the errors say what is wrong"
    )
    valid: bool = Field(description="verdict is valid")
    intact: bool = Field(description="no errors: the signature and every hash match (whoever signed)")
    signer_trusted: bool = Field(description="signed by this station's key")
    findings: list[FindingPublic] = Field(description="errors, then warnings, then passed checks, translated")
    summary: PackageSummaryPublic | None = Field(description="what the manifest says (None: unreadable)")
    errors: list[str] = Field(description="the errors in English (as the CLI prints them)")
    warnings: list[str] = Field(description="the warnings in English")
    passed: list[str] = Field(description="the passed checks in English")
    package_key_fingerprint: str | None
    station_key_fingerprint: str
    station: str | None = Field(description="the station name the manifest gives (not proof of anything)")
    cameras: list[str]

    @classmethod
    def of(
        cls,
        report: VerificationReport,
        *,
        station_key_fingerprint: str,
        translations: gettext.NullTranslations,
    ) -> VerificationPublic:
        manifest = report.manifest or {}
        station = manifest.get("station")
        name = station.get("name") if isinstance(station, dict) else None
        return cls(
            verdict=report.verdict,
            valid=report.valid,
            intact=report.intact,
            signer_trusted=report.signer_trusted,
            findings=present_findings(report, translations),
            summary=summarize_package(report, station_key_fingerprint=station_key_fingerprint),
            errors=_shown(report.errors),
            warnings=_shown(report.warnings),
            passed=_shown(report.passed),
            package_key_fingerprint=report.key_fingerprint,
            station_key_fingerprint=station_key_fingerprint,
            station=None if name is None else escape_control_chars(str(name)),
            cameras=_shown(_camera_ids(manifest)),
        )


def _shown(lines: list[str]) -> list[str]:
    return [escape_control_chars(line) for line in lines]


def _camera_ids(manifest: dict[str, Any]) -> list[str]:
    clips = manifest.get("clips")
    ids: list[str] = []
    for clip in clips if isinstance(clips, list) else []:
        camera = clip.get("camera") if isinstance(clip, dict) else None
        camera_id = str(camera.get("id", "?")) if isinstance(camera, dict) else "?"
        if camera_id not in ids:
            ids.append(camera_id)
    return ids


@router.get("/api/station/key", summary="The station's public signing key and its fingerprint")
def get_station_key(station: StationDep, _user: CurrentUser) -> StationKeyPublic:
    return StationKeyPublic(
        fingerprint=station.key.fingerprint, public_key_pem=station.key.public_pem.decode("ascii")
    )


@router.post(VERIFY_PATH, summary="Verify an evidence package (signature, signer and every hash)")
def post_verify(
    station: StationDep,
    user: CurrentUser,
    session: SessionDep,
    language: LanguageDep,
    package: Annotated[UploadFile, File(description="the evidence package (ZIP)")],
) -> VerificationPublic:
    name = Path(package.filename or "package.zip").name
    report = _check(station, name, package)
    audit_as(
        session,
        user,
        action="evidence.verify",
        resource_type="package",
        resource_id=escape_control_chars(name)[:128],  # the uploader's file name: text, and fits
        detail={
            "verdict": report.verdict.value,
            "errors": len(report.errors),
            "package_key": report.key_fingerprint,
        },
    )
    return VerificationPublic.of(
        report,
        station_key_fingerprint=station.key.fingerprint,
        translations=station.catalogs.get(language),
    )


def _check(station: Station, name: str, package: UploadFile) -> VerificationReport:
    """The report on the uploaded package, from the station's verify worker. Its refusals (busy, too slow,
    crashed, not a package) answer as mapped in :data:`console.error.DOMAIN_ERRORS`."""
    return station.verifier.verify(Path(name), package.file, trusted_keys=[station.key.public_key])


@router.get("/verify", include_in_schema=False)
def get_verify_page(request: Request, station: StationDep, user: PageUser, language: LanguageDep) -> Response:
    return render_page(
        request,
        station,
        "verify.html",
        language=language,
        user=user,
        context={
            "active": "verify",
            "fingerprint": station.key.fingerprint,
            "public_pem": station.key.public_pem.decode("ascii"),
        },
    )
