// Calls to the station API from pages: JSON in and out, the session's CSRF token on every request that
// changes state, and one error type carrying the server's {"error": {"code", "message"}} shape.
//
// The server writes error messages in the page's language (the request carries the page's language in
// Accept-Language; the language cookie, when set, says the same). The few texts the browser makes up
// itself (network down, a reply that is not the station's JSON) come translated from base.html
// (<script id="api-text">) through pageText().

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

const FALLBACK_TEXT = {
  failed: "Request failed (HTTP {status})",
  offline: "The station cannot be reached. Check the network connection.",
};

// A translated text of the page (base.html), with {name} placeholders filled from params.
export function pageText(key, params = {}) {
  let text = FALLBACK_TEXT[key] || key;
  const node = document.getElementById("api-text");
  if (node) {
    try {
      text = JSON.parse(node.textContent)[key] || text;
    } catch (error) {
      console.warn("api: unreadable page texts", error);
    }
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// The page's language, so that the API answers errors in it.
export function pageLanguage() {
  return document.documentElement.lang || "";
}

// The message of a failed response: the server's (translated) one, else a translated generic text.
export function errorMessage(response, data) {
  const error = (data && data.error) || {};
  return error.message || pageText("failed", { status: response.status });
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (pageLanguage()) {
    init.headers["Accept-Language"] = pageLanguage();
  }
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-CSRF-Token"] = csrfToken();
  }
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "network_error", pageText("offline"), { cause: String(error) });
  }
  if (response.status === 401) {
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    throw new ApiError(401, "not_authenticated", "signed out");
  }
  if (response.status === 204) {
    return null;
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", errorMessage(response, data), data);
  }
  return data;
}
