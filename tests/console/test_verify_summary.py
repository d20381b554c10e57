"""The verify API answers in the reader's language: every finding with its code, its values and its
translated text, and a summary of what the manifest says (escaped, times in UTC for the page to show in
station time). The verify page in Chromium: ``tests/browser/test_verify_page.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from console.i18n import LOCALE_DIR, SUPPORTED_LANGUAGES, Catalogs, placeholders
from console.package_summary import present_findings
from storage.evidence.finding import FINDING_TEMPLATES, Finding, FindingLevel
from storage.evidence.manifest import PUBLIC_KEY_NAME
from storage.evidence.report import VerificationReport
from storage.evidence.verifier import FIELD_TYPE_PHRASES
from storage.model import Role
from tests.support.console import make_user, running_station, sign_in
from tests.support.evidence import flip_byte, make_package
from tests.support.hostile_zip import Genuine, RawMember, assemble

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


# --- findings that once carried a library's English (json's, zipfile's) or an English type phrase ---------

TECHNICAL_WORDS = frozenset({"ZIP", "JSON", "PEM", "SHA", "UTF", "Ed25519", "EC", "null"})
"""Names that stay as they are in every language (formats, algorithms, the JSON literal)."""
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")

SAMPLE_PARAMS: dict[str, str | int] = {
    "name": "clips/cam-1.mp4",
    "other": "clips/cam-2.mp4",
    "file": "manifest.json",
    "manifest": "manifest.json",
    "key": "SHA256:ab12",
    "trusted": "SHA256:cd34",
    "declared": "SHA256:ef56",
    "kind": "EC",
    "found": "'list'",
    "expected": "9f9f",
    "field": "'station'",
    "format": "1",
    "index": 2,
    "excerpt": "7",
    "method": 8,
    "sha256": "0f0f",
    "expected_sha256": "0f0f",
    "actual_sha256": "1e1e",
    "actual": "1e1e",
}


def _english_left(text: str, params: Mapping[str, object]) -> list[str]:
    """The Latin words of a translated text that are neither a value nor a technical name."""
    rest = text
    for value in sorted((str(value) for value in params.values()), key=len, reverse=True):
        rest = rest.replace(value, "")
    return [word for word in LATIN_WORD.findall(rest) if word not in TECHNICAL_WORDS]


def _sample(code: str) -> Finding:
    template = FINDING_TEMPLATES[code]
    params = {name: SAMPLE_PARAMS.get(name, 41 + index) for index, name in enumerate(placeholders(template))}
    if code == "manifest_field_type":
        params |= {"actual": "a number", "expected": "an object or null"}
    return Finding.of(FindingLevel.ERROR, code, **params)


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_no_finding_keeps_an_english_sentence_or_type_phrase(lang: str) -> None:
    """Every finding, its values aside, is a sentence of the reader's language: no library's English text
    (zipfile's, json's, a key class's name) and no English type phrase inside it."""
    report = VerificationReport(path=Path("package.zip"))
    report.findings.extend(_sample(code) for code in FINDING_TEMPLATES)
    shown = present_findings(report, Catalogs.load(lang).get(lang))
    assert len(shown) == len(FINDING_TEMPLATES)
    left = {
        finding.code: words for finding in shown if (words := _english_left(finding.text, finding.params))
    }
    assert not left, f"{lang}: English left in {left}"
    field_type = next(finding for finding in shown if finding.code == "manifest_field_type")
    assert "number" not in field_type.text and "object" not in field_type.text.lower().replace("объект", "")


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_field_type_phrase_is_translated(lang: str) -> None:
    translations = Catalogs.load(lang).get(lang)
    missing = sorted(p for p in FIELD_TYPE_PHRASES if translations.gettext(p) == p and p != "null")
    assert lang == "en" or not missing, f"{lang}: {missing}"
    assert all(placeholders(translations.gettext(p)) == set() for p in FIELD_TYPE_PHRASES)


def _public_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _with_member(genuine: Genuine, name: str, data: bytes) -> bytes:
    return assemble(
        [RawMember(member.name, data if member.name == name else member.data) for member in genuine.raw()]
    )


HOSTILE: dict[str, tuple[Callable[[Genuine], bytes], dict[str, object]]] = {
    "key_unreadable": (lambda g: _with_member(g, PUBLIC_KEY_NAME, b"not a key"), {}),
    "key_not_ed25519": (
        lambda g: _with_member(g, PUBLIC_KEY_NAME, _public_key_pem(ec.generate_private_key(ec.SECP256R1()))),
        {"kind": "EC"},
    ),
    "manifest_not_json": (lambda g: assemble(g.raw(b'{"format":\n  nope}')), {"line": 2, "column": 3}),
    "manifest_not_utf8": (lambda g: assemble(g.raw(b'{"a": "\xff"}')), {"position": 7}),
    "manifest_number_too_long": (
        lambda g: assemble(g.raw(b'{"format": 1' + b"0" * 5000 + b"}")),
        {"limit": sys.get_int_max_str_digits()},
    ),
    "manifest_field_type": (
        lambda g: g.with_manifest(lambda manifest: manifest.__setitem__("station", 5)),
        {"field": "'station'", "actual": "a number", "expected": "an object"},
    ),
}


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_hostile_packages_are_explained_in_the_readers_language(
    console_client: TestClient, tmp_path: Path, lang: str
) -> None:
    """Through the API: each of these findings gets its own translated sentence, with the specific detail
    (line and column, the byte, the digit limit, the key's algorithm) as a value, and no English sentence."""
    station = running_station(console_client)
    make_user(station.database, "investigator", role=Role.INVESTIGATOR)
    csrf = sign_in(console_client, "investigator")
    package, _ = make_package(tmp_path / "good", key=station.key)
    genuine = Genuine.of(package.path, station.key)
    translations = Catalogs.load(lang).get(lang)
    for code, (build, expected) in HOSTILE.items():
        path = tmp_path / f"{code}.zip"
        path.write_bytes(build(genuine))
        body = _verify(console_client, csrf, path, lang)
        assert body["verdict"] == "invalid", code
        finding = next((f for f in body["findings"] if f["code"] == code), None)
        assert finding is not None, (code, [f["code"] for f in body["findings"]])
        assert expected.items() <= finding["params"].items(), (code, finding["params"])
        assert finding["text"] != FINDING_TEMPLATES[code].format_map(finding["params"]), code
        only_names = {
            key: finding["params"][key] for key in ("file", "field", "kind") if key in finding["params"]
        }
        assert not _english_left(finding["text"], only_names), (code, finding["text"])  # values included
        for shown in body["findings"]:
            assert not _english_left(shown["text"], shown["params"]), (code, shown["text"])
            assert re.search("[а-яәіңғүұқөһ]", shown["text"]), shown["text"]
        if code == "manifest_field_type":
            assert translations.gettext("a number") in finding["text"], finding["text"]
