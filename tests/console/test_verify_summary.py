"""The verify API answers in the reader's language: every finding with its code, its values and its
translated text, and a summary of what the manifest says (escaped, times in UTC for the page to show in
station time). The verify page in Chromium: ``tests/browser/test_verify_page.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from console.i18n import LOCALE_DIR, SUPPORTED_LANGUAGES, Catalogs, placeholders
from storage.evidence.finding import FINDING_TEMPLATES
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in
from tests.support.evidence import flip_byte, make_package

ENGLISH_WORDS = re.compile(r"\b(the|package|altered|signed|signature|bytes|expected|actual|missing)\b")
"""Words of the English findings that no translated finding holds (its values aside)."""


def _verify(client: TestClient, csrf: str, package: Path, language: str) -> dict[str, Any]:
    with package.open("rb") as handle:
        response = client.post(
            "/api/evidence/verify",
            files={"package": (package.name, handle, "application/zip")},
            headers={"X-CSRF-Token": csrf, "Accept-Language": language},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _without_values(text: str, params: dict[str, object]) -> str:
    for value in params.values():
        text = text.replace(str(value), "")
    return text


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_finding_code_is_translated(lang: str) -> None:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    problems = []
    for code, template in FINDING_TEMPLATES.items():
        message = catalog.get(template)
        if message is None or not message.string:
            problems.append(f"{code}: no translation")
        elif placeholders(str(message.string)) != placeholders(template):
            problems.append(f"{code}: placeholders differ")
    assert not problems, f"{lang}: " + "; ".join(problems)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_verify_answers_a_translated_summary_and_findings(
    console_client: TestClient, tmp_path: Path, lang: str
) -> None:
    station = running_station(console_client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = sign_in(console_client, "investigator")
    package, _ = make_package(tmp_path / "good", key=station.key)
    body = _verify(console_client, csrf, package.path, lang)
    assert body["verdict"] == "valid"
    assert body["summary"] == {
        "station_name": "Опорный пункт 5",
        "key_fingerprint": station.key.fingerprint,
        "station_key": True,
        "exported_by": "investigator1",
        "exported_at_utc": "2025-03-02T08:30:00Z",
        "complaint_number": "2025-0003",
        "cameras": [
            {
                "camera_id": "cam-1",
                "camera_name": "Подъезд 1",
                "start_utc": "2025-03-01T10:00:02Z",
                "end_utc": "2025-03-01T10:01:02Z",
            }
        ],
        "clip_count": 1,
        "file_count": len(package.files),
        "total_bytes": sum(entry.size for entry in package.files),
    }
    translations = Catalogs.load(lang).get(lang)
    codes = [finding["code"] for finding in body["findings"]]
    assert {"signature_valid", "signer_trusted", "fingerprint_match", "file_ok"} <= set(codes)
    for finding in body["findings"]:
        template = FINDING_TEMPLATES[finding["code"]]
        assert finding["level"] == "passed"
        assert finding["text"] == translations.gettext(template).format_map(finding["params"])
        assert finding["text"] != template.format_map(finding["params"])


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_a_tampered_package_is_explained_without_english(
    console_client: TestClient, tmp_path: Path, lang: str
) -> None:
    station = running_station(console_client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = sign_in(console_client, "investigator")
    package, _ = make_package(tmp_path / "bad", key=station.key)
    clip = next(entry.name for entry in package.files if entry.kind == "clip")
    flip_byte(package.path, clip)
    body = _verify(console_client, csrf, package.path, lang)
    assert body["verdict"] == "invalid"
    altered = [finding for finding in body["findings"] if finding["level"] == "error"]
    assert [finding["code"] for finding in altered] == ["file_altered_hash"]
    assert altered[0]["params"]["name"] == clip
    assert body["errors"] == [FINDING_TEMPLATES["file_altered_hash"].format_map(altered[0]["params"])]
    for finding in body["findings"]:
        rest = _without_values(finding["text"], finding["params"])
        assert not ENGLISH_WORDS.search(rest), finding["text"]
        assert re.search("[а-яәіңғүұқөһ]", rest), finding["text"]
    assert body["summary"]["station_key"] is True  # what the manifest says, shown even when invalid
