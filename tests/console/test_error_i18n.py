"""API errors in the user's language: every message is in the catalogs, and the API answers in ru/kk/en."""

from __future__ import annotations

import ast
import gettext
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

import console
from console import error
from console.complaint import OUTCOME_LABELS, STATUS_LABELS
from console.deps import ROLE_LABELS
from console.i18n import LANGUAGE_COOKIE, LOCALE_DIR, Catalogs, Message, placeholders
from console.password import WeakPasswordError, check_password_policy
from console.routes.user import password_problem
from storage.model import Role, utcnow
from tests.support.console import make_user, running_station, sign_in
from tests.support.station_media import MediaStation

CONSOLE_DIR = Path(console.__file__).resolve().parent
# Message ids that reach Message(...) through a name rather than a literal.
INDIRECT_MESSAGES = {
    *error.DEFAULT_MESSAGES.values(),
    error.OTHER_STATUS_MESSAGE,
    error.INVALID_FIELD_MESSAGE,
    error.INVALID_REQUEST_MESSAGE,
    error.INTERNAL_ERROR_MESSAGE,
    *STATUS_LABELS.values(),
    *OUTCOME_LABELS.values(),
    *ROLE_LABELS.values(),
}


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _message_argument(node: ast.Call) -> ast.expr | None:
    name = _call_name(node)
    if name == "ApiError":
        if len(node.args) > 2:
            return node.args[2]
        return next((k.value for k in node.keywords if k.arg == "message"), None)
    if name == "Message":
        return node.args[0] if node.args else None
    if name == "ErrorMapping":  # console.error.DOMAIN_ERRORS: (status, code, message, params, ...)
        if len(node.args) > 2:
            return node.args[2]
        return next((k.value for k in node.keywords if k.arg == "message"), None)
    return None


def _literal_keys(node: ast.Call) -> set[str] | None:
    """The parameter names given at the call, when they are all written out (None when not knowable)."""
    if _call_name(node) == "Message":
        names = {k.arg for k in node.keywords}
        return None if None in names else {n for n in names if n is not None}
    if _call_name(node) == "ErrorMapping":
        return None  # its params are a function of the exception (test_error_mapping renders each)
    params = next((k.value for k in node.keywords if k.arg == "params"), None)
    if params is None:
        return set()
    if isinstance(params, ast.Dict) and all(isinstance(k, ast.Constant) for k in params.keys):
        return {str(k.value) for k in params.keys if isinstance(k, ast.Constant)}
    return None


def scan_console() -> tuple[dict[str, str], list[str]]:
    """Message ids used in ApiError(...) and Message(...) calls in console/ (not the CLI), where each is
    used, and the call sites that break the rules (a computed msgid, or params that miss placeholders)."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for path in sorted(CONSOLE_DIR.rglob("*.py")):
        if "cli" in path.relative_to(CONSOLE_DIR).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            argument = _message_argument(node)
            if argument is None:
                continue
            where = f"{path.relative_to(CONSOLE_DIR.parent)}:{node.lineno}"
            if isinstance(argument, ast.JoinedStr | ast.BinOp) or (
                isinstance(argument, ast.Call) and _call_name(argument) in {"str", "format", "repr"}
            ):
                problems.append(f"{where}: the message is built at run time; give a msgid with placeholders")
                continue
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                continue  # a Message passed on (exc.message, decision.message) or a named constant
            found.setdefault(argument.value, where)
            given = _literal_keys(node)
            if given is not None and given != placeholders(argument.value):
                problems.append(f"{where}: params {sorted(given)} != placeholders of {argument.value!r}")
    return found, problems


def catalog(lang: str) -> dict[str, str]:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return {str(m.id): str(m.string) for m in read_po(handle) if m.id and isinstance(m.id, str)}


def test_error_messages_are_literal_msgids_with_matching_params() -> None:
    found, problems = scan_console()
    assert len(found) > 60  # the scan sees the routes, deps, media access, live and complaint rules
    assert "no camera {camera} on this station" in found
    assert "no complaint {complaint_id}" in found  # mapped once, in console.error.DOMAIN_ERRORS
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_every_error_message_is_translated_with_its_placeholders(lang: str) -> None:
    found, _problems = scan_console()
    translations = catalog(lang)
    wanted = {**dict.fromkeys(INDIRECT_MESSAGES, "console/error.py"), **found}
    missing = sorted(f"{msgid!r} ({where})" for msgid, where in wanted.items() if not translations.get(msgid))
    assert not missing, f"{lang}: untranslated\n" + "\n".join(missing)
    broken = sorted(msgid for msgid in wanted if placeholders(translations[msgid]) != placeholders(msgid))
    assert not broken, f"{lang}: placeholders differ in {broken}"
    if lang != "en":
        untranslated = sorted(m for m in found if translations[m] == m and not m.isupper())
        assert not untranslated, f"{lang}: left in English {untranslated}"


# --- Message ------------------------------------------------------------------------------------


def _catalog(**strings: str) -> gettext.NullTranslations:
    class Fixed(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return strings.get(message, message)

    return Fixed()


def test_message_fills_and_translates_placeholders() -> None:
    message = Message("no camera {camera} on this station", camera="gate_1")
    assert str(message) == "no camera gate_1 on this station"
    ru = _catalog(**{"no camera {camera} on this station": "Камера «{camera}» не найдена"})
    assert message.translate(ru) == "Камера «gate_1» не найдена"
    assert message.translate(None) == str(message)


def test_message_parameters_can_be_messages_and_lists_of_them() -> None:
    kk = _catalog(**{"{role} may not {what}": "{role}: {what} болмайды", "Officer": "Кезекші", "A": "Ә"})
    message = Message("{role} may not {what}", role=Message("Officer"), what=(Message("A"), Message("B")))
    assert str(message) == "Officer may not A, B"
    assert message.translate(kk) == "Кезекші: Ә, B болмайды"


def test_a_broken_translation_falls_back_to_english() -> None:
    message = Message("segment {segment_id} is not available", segment_id=7)
    broken = _catalog(**{"segment {segment_id} is not available": "Сегмент {segmentid} недоступен"})
    assert message.translate(broken) == "segment 7 is not available"
    assert str(Message("no user {user_id}")) == "no user {user_id}"  # a missing value never raises


def test_api_error_keeps_the_english_detail() -> None:
    raised = error.ApiError(404, "user_not_found", "no user {user_id}", params={"user_id": 5})
    assert raised.detail == "no user 5" and raised.message == Message("no user {user_id}", user_id=5)
    with pytest.raises(TypeError):
        error.ApiError(404, "x", Message("no user {user_id}", user_id=5), params={"user_id": 5})


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("short", None),
        ("x" * 300, None),
        (" " * 12, None),
        ("Ivanov-12345", "ivanov-12345"),
        ("password12", None),
    ],
)
def test_every_password_rule_has_its_own_message(password: str, username: str | None) -> None:
    with pytest.raises(WeakPasswordError):
        check_password_policy(password, username=username)
    message = password_problem(password, username=username)
    assert message.msgid != "the password does not meet the password policy"
    assert message.msgid in catalog("kk")


# --- the API in three languages -----------------------------------------------------------------


def _admin(client: TestClient) -> dict[str, str]:
    make_user(running_station(client).database, "admin", Role.ADMIN)
    return {"X-CSRF-Token": sign_in(client, "admin")}


def test_the_same_error_in_each_language(console_client: TestClient) -> None:
    headers = _admin(console_client)

    def missing_user(**kwargs: object) -> dict[str, object]:
        response = console_client.patch("/api/users/999", json={}, **kwargs)
        assert response.status_code == 404
        body = response.json()["error"]
        assert body["code"] == "user_not_found" and body["message_en"] == "no user 999"
        return dict(body)

    assert missing_user(headers=headers)["message"] == "Пользователь 999 не найден"  # default: ru
    kk = {**headers, "Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.5"}
    assert missing_user(headers=kk)["message"] == "999 пайдаланушысы табылмады"
    en = {**headers, "Accept-Language": "en-US,en;q=0.9"}
    assert missing_user(headers=en)["message"] == "no user 999"
    assert missing_user(headers=headers, params={"lang": "kk"})["message"] == "999 пайдаланушысы табылмады"
    console_client.cookies.set(LANGUAGE_COOKIE, "en")
    assert missing_user(headers=kk)["message"] == "no user 999"  # the cookie beats Accept-Language
    console_client.cookies.set(LANGUAGE_COOKIE, "ru")
    assert missing_user(headers=en)["message"] == "Пользователь 999 не найден"


def test_permission_error_names_the_role_in_the_language(console_client: TestClient) -> None:
    make_user(running_station(console_client).database, "auditor", Role.AUDITOR)
    sign_in(console_client, "auditor")
    response = console_client.get("/api/live/cameras", headers={"Accept-Language": "ru"})
    body = response.json()["error"]
    assert response.status_code == 403 and body["code"] == "forbidden"
    assert body["message"] == "Роли «Аудитор» это действие недоступно (нужно право: live.view)"
    assert body["message_en"] == "the Auditor role may not do this (needs live.view)"
    assert body["missing"] == ["live.view"]
    kk = console_client.get("/api/live/cameras", headers={"Accept-Language": "kk"}).json()["error"]
    assert kk["message"].startswith("«") and "live.view" in kk["message"] and "role" not in kk["message"]


def test_weak_password_in_kazakh_keeps_the_english_cause(console_client: TestClient) -> None:
    headers = {**_admin(console_client), "Accept-Language": "kk"}
    user_id = console_client.get("/api/auth/me").json()["user"]["id"]
    response = console_client.put(
        f"/api/users/{user_id}/password", json={"password": "short"}, headers=headers
    )
    body = response.json()["error"]
    assert response.status_code == 422 and body["code"] == "weak_password"
    assert body["message"] == "Құпиясөз тым қысқа: кемінде 10 таңба керек"
    assert body["message_en"] == "the password is too short: at least 10 characters"
    assert "too short" in body["cause"]


def test_framework_errors_are_translated(console_client: TestClient) -> None:
    anonymous = console_client.get("/api/users").json()["error"]
    assert anonymous == {
        "code": "not_authenticated",
        "message": "Войдите в систему или передайте API-токен",
        "message_en": "sign in or send an API token",
    }
    nothing = console_client.get("/api/nothing-here", headers={"Accept-Language": "kk"}).json()["error"]
    assert nothing == {"code": "not_found", "message": "Табылмады", "message_en": "not found"}
    method = console_client.delete("/api/health").json()["error"]
    assert method["code"] == "method_not_allowed" and method["message"] == "Метод не разрешён"
    assert method["cause"] == "Method Not Allowed"


def test_validation_error_has_a_translated_lead(console_client: TestClient) -> None:
    response = console_client.post(
        "/api/auth/login", json={"password": "x"}, headers={"Accept-Language": "kk"}
    )
    body = response.json()["error"]
    assert response.status_code == 422 and body["code"] == "validation_error"
    assert body["message"] == "body.username өрісіндегі мән жарамсыз: Field required"
    assert body["message_en"] == "invalid value in field body.username: Field required"
    assert body["details"] == [{"loc": "body.username", "message": "Field required"}]
    ru = console_client.post("/api/auth/login", json={"password": "x"}).json()["error"]
    assert ru["message"] == "Недопустимое значение в поле body.username: Field required"


def test_browser_error_page_uses_the_same_translation(console_client: TestClient) -> None:
    response = console_client.post(
        "/login?lang=kk",
        data={"username": "a", "password": "b"},
        headers={"Origin": "https://elsewhere.example", "Accept": "text/html"},
    )
    assert response.status_code == 403 and 'lang="kk"' in response.text
    assert "Басқа сайттан кіруге рұқсат берілмеді" in response.text
    assert response.cookies.get(LANGUAGE_COOKIE) == "kk"  # remembered like any page's ?lang=
    console_client.cookies.clear()
    english = console_client.post(
        "/login",
        data={"username": "a", "password": "b"},
        headers={"Origin": "https://elsewhere.example", "Accept": "text/html", "Accept-Language": "en"},
    )
    assert "sign-in from another site refused" in english.text


def test_catalogs_carry_every_message_at_start_up() -> None:
    catalogs = Catalogs.load("ru")
    message = Message("at most {count} live viewers at once on this station", count=32)
    assert "32" in message.translate(catalogs.get("ru")) and "32" in message.translate(catalogs.get("kk"))
    assert message.translate(catalogs.get("en")) == "at most 32 live viewers at once on this station"


def test_complaint_rule_errors_in_each_language(media_station: MediaStation) -> None:
    officer = media_station.login("officer")
    now = utcnow()
    created = officer.post(
        "/api/complaints",
        json={
            "received_at": (now - timedelta(minutes=5)).isoformat(),
            "channel": "phone",
            "category": "littering",
            "building": "5",
            "incident_start": (now - timedelta(minutes=30)).isoformat(),
            "incident_end": (now - timedelta(minutes=20)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    complaint_id = created.json()["complaint"]["id"]
    wanted = {"status": "resolved", "outcome": "warning_given"}
    replies = {
        lang: officer.post(
            f"/api/complaints/{complaint_id}/status", json=wanted, headers={"Accept-Language": lang}
        )
        for lang in ("ru", "kk", "en")
    }
    assert {r.status_code for r in replies.values()} == {409}
    errors = {lang: r.json()["error"] for lang, r in replies.items()}
    assert {e["code"] for e in errors.values()} == {"transition_not_allowed"}
    assert errors["ru"]["message"] == (
        "Обращение в статусе «Новое» можно перевести в: В работе, Отклонено; в «Решено» нельзя"
    )
    assert errors["kk"]["message"].startswith("«Жаңа» мәртебесіндегі өтінішті")
    assert (
        errors["en"]["message"] == "a complaint in status New can go to In progress, Rejected, not Resolved"
    )
    assert {e["message_en"] for e in errors.values()} == {errors["en"]["message"]}
    unknown = officer.get("/api/complaints/99999", headers={"Accept-Language": "kk"}).json()["error"]
    assert unknown["code"] == "complaint_not_found" and unknown["message"] == "99999 өтініші табылмады"
