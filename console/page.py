"""Rendering server-side pages with the common context.

Every page template extends ``base.html`` and receives:

``_`` / ``ngettext``  gettext functions of the request's language (``{{ _("Cameras") }}``)
``lang``              the language code (ru, kk, en); ``languages`` maps codes to their own names
``user``              the :class:`console.deps.Principal`, or None on the login page
``station_name``      from ``station.name`` in the config; ``version`` the software version
``timezone``          the station's IANA zone (format times with the ``localtime`` filter)
``role_label(role)``  the translated name of a role
``Permission``        the enum, for ``{% if user.can(Permission.LIVE_VIEW) %}``
``nav_links``         the sidebar: the :data:`console.permission.PAGE_LINKS` the user may open
``plural_forms(singular, plural)``  a plural message's forms by CLDR category, for ``plural()`` in JS
``csrf_token``        put it in forms (``<input type=hidden name=csrf_token>``); JS reads the meta tag
``lang_url(code)``    the current page in another language
plus whatever the route passes in ``context``.

A ``?lang=`` choice is remembered in the ``station_lang`` cookie.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from console.deps import ROLE_LABELS, Principal
from console.i18n import (
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    SUPPORTED_LANGUAGES,
    plural_forms,
    request_language,
)
from console.permission import pages_for
from console.station import Station

LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600


def _lang_url(request: Request, code: str) -> str:
    params = dict(request.query_params)
    params["lang"] = code
    query = "&".join(f"{key}={value}" for key, value in params.items() if key in {"lang", "next"})
    return f"{request.url.path}?{query}"


def render_page(
    request: Request,
    station: Station,
    template: str,
    *,
    language: str,
    user: Principal | None,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    translations = station.catalogs.get(language)
    values: dict[str, Any] = {
        "_": translations.gettext,
        "ngettext": translations.ngettext,
        "lang": language,
        "languages": LANGUAGE_NAMES,
        "lang_url": lambda code: _lang_url(request, code),
        "role_label": lambda role: translations.gettext(ROLE_LABELS.get(str(role), str(role))),
        "plural_forms": lambda singular, plural: plural_forms(translations, singular, plural),
        "user": user,
        "nav_links": pages_for(user.permissions) if user else (),
        "station_name": station.name,
        "timezone": station.settings.config.station.timezone,
        "version": station.version,
        "csrf_token": user.csrf_token if user else None,
        **(context or {}),
    }
    response = station.templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=dict(headers or {})
    )
    response.headers.setdefault("Cache-Control", "no-store")
    chosen = request.query_params.get("lang")
    if chosen in SUPPORTED_LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_MAX_AGE_S, samesite="lax", httponly=False
        )
    return response


def render_error_page(
    request: Request, status_code: int, message: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    station = getattr(request.app.state, "station", None)
    if not isinstance(station, Station):
        return PlainTextResponse(message, status_code=status_code, headers=headers)
    language = request_language(request, default=station.settings.config.console.language)
    return render_page(
        request,
        station,
        "error.html",
        language=language,
        user=None,
        context={"status_code": status_code, "message": message},
        status_code=status_code,
        headers=headers,
    )
