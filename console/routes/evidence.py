"""Evidence integrity in the console: the station's public key, and verifying a package someone brings back.

``POST /api/evidence/verify`` takes the ZIP as a multipart upload, checks it with
:func:`storage.evidence.verify_package` against this station's key, audits the check, and answers exactly
what is wrong. The same check is ``station verify PACKAGE.zip``. The upload is written once: the form parser
spools it to a temporary file (past 1 MiB; in ``$TMPDIR``), and the check reads that file where it lies. Its
size is capped by ``console.max_upload_mb`` before any of it is read (:mod:`console.body_limit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from console.deps import CurrentUser, LanguageDep, PageUser, SessionDep, StationDep, audit_as
from console.error import ApiError
from console.page import render_page
from storage.evidence import PackageUnreadableError, verify_package

router = APIRouter(tags=["evidence"])

VERIFY_PATH: Final = "/api/evidence/verify"  # an upload: its body cap is console.max_upload_mb


class StationKeyPublic(BaseModel):
    fingerprint: str
    public_key_pem: str


class VerificationPublic(BaseModel):
    valid: bool
    errors: list[str]
    warnings: list[str]
    passed: list[str]
    package_key_fingerprint: str | None
    checked_against_station_key: bool
    station: str | None
    cameras: list[str]


@router.get("/api/station/key", summary="The station's public signing key and its fingerprint")
def get_station_key(station: StationDep, _user: CurrentUser) -> StationKeyPublic:
    return StationKeyPublic(
        fingerprint=station.key.fingerprint, public_key_pem=station.key.public_pem.decode("ascii")
    )


@router.post(VERIFY_PATH, summary="Verify an evidence package (signature and every hash)")
def post_verify(
    station: StationDep,
    user: CurrentUser,
    session: SessionDep,
    package: Annotated[UploadFile, File(description="the evidence package (ZIP)")],
    against_station_key: Annotated[bool, Form()] = True,
) -> VerificationPublic:
    name = Path(package.filename or "package.zip").name
    try:
        report = verify_package(
            Path(name),
            source=package.file,
            expected_key=station.key.public_key if against_station_key else None,
        )
    except PackageUnreadableError as exc:
        raise ApiError(
            422,
            "not_a_package",
            "{name} is not a readable evidence package",
            params={"name": name},
            cause=str(exc),
        ) from exc
    manifest = report.manifest or {}
    cameras = [str(c.get("id", "?")) for c in manifest.get("cameras", []) if isinstance(c, dict)]
    audit_as(
        session,
        user,
        action="evidence.verify",
        resource_type="package",
        resource_id=name,
        detail={"valid": report.valid, "errors": len(report.errors), "station_key": against_station_key},
    )
    return VerificationPublic(
        valid=report.valid,
        errors=report.errors,
        warnings=report.warnings,
        passed=report.passed,
        package_key_fingerprint=report.key_fingerprint,
        checked_against_station_key=against_station_key,
        station=str(manifest["station"]["name"]) if isinstance(manifest.get("station"), dict) else None,
        cameras=cameras,
    )


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
