// Users (admins): create a user, change a role, disable or enable, reset a password, and list or revoke a
// user's API tokens and open browser sessions.
//
// Everything goes through the users API (/api/users, console/routes/user.py) with the session's CSRF token
// (api.js). A refusal shows the server's translated message as it comes; a success clears it and says what
// was done. The table is drawn again from the API after every change.

import { api } from "./api.js";
import { formatStation } from "./stationtime.js";

const config = JSON.parse(document.getElementById("users-config").textContent);
const S = config.strings;
const ROLE_LABELS = Object.fromEntries(config.roles.map((role) => [role.value, role.label]));

const errorBox = document.getElementById("users-error");
const statusBox = document.getElementById("users-status");
const rows = document.getElementById("users-rows");
const table = document.querySelector("[data-testid=users-table]");
const createForm = document.getElementById("user-create");
const detail = document.getElementById("user-detail");
const detailTitle = document.getElementById("user-detail-title");
const passwordForm = document.getElementById("user-password");
const tokenList = document.getElementById("user-tokens");
const sessionList = document.getElementById("user-sessions");

const state = { users: [], tokens: new Map(), sessions: new Map(), selected: null };

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function when(value) {
  return value ? formatStation(value, config.timezone, config.lang) : S.never;
}

function showError(error) {
  errorBox.textContent = error ? (error.message || String(error)) : "";
}


function element(tag, { text, className, testid, attrs } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function button(text, testid, onClick, className = "btn") {
  const node = element("button", { text, className, testid, attrs: { type: "button" } });
  node.addEventListener("click", onClick);
  return node;
}

function tokenState(token) {
  if (token.revoked_at) return "revoked";
  if (token.expires_at && new Date(token.expires_at) <= new Date()) return "expired";
  return "active";
}

// Runs one request; a refusal is shown (and the last success message cleared) and reported as false.
async function attempt(action) {
  try {
    await action();
    return true;
  } catch (error) {
    statusBox.textContent = "";
    showError(error);
    return false;
  }
}

// Runs one change, then draws the table again from the API; on success the error goes and `message` says
// what was done (once the table shows it).
async function change(action, message) {
  const ok = await attempt(action);
  if (ok) showError(null);
  await reload();
  if (ok) statusBox.textContent = message;
  return ok;
}

// ---- loading -----------------------------------------------------------------------------------------

async function load() {
  const users = await api("/api/users");
  const details = await Promise.all(
    users.map((user) =>
      Promise.all([api(`/api/users/${user.id}/tokens`), api(`/api/users/${user.id}/sessions`)]),
    ),
  );
  state.users = users;
  users.forEach((user, index) => {
    state.tokens.set(user.id, details[index][0]);
    state.sessions.set(user.id, details[index][1]);
  });
  if (state.selected !== null && !users.some((user) => user.id === state.selected)) state.selected = null;
  render();
}

async function reload() {
  await attempt(load);
}

// ---- the table -----------------------------------------------------------------------------------------

function roleSelect(user) {
  const select = element("select", { testid: "user-role", attrs: { "aria-label": user.username } });
  for (const role of config.roles) {
    const option = element("option", { text: role.label, attrs: { value: role.value } });
    option.selected = role.value === user.role;
    select.append(option);
  }
  select.disabled = user.id === config.me; // the server refuses dropping one's own admin role anyway
  select.addEventListener("change", async () => {
    const role = select.value;
    const message = format(S.role_changed, { username: user.username, role: ROLE_LABELS[role] || role });
    await change(() => api(`/api/users/${user.id}`, { method: "PATCH", body: { role } }), message);
  });
  return select;
}

async function setDisabled(user, disabled) {
  const message = format(disabled ? S.disabled_done : S.enabled_done, { username: user.username });
  await change(() => api(`/api/users/${user.id}`, { method: "PATCH", body: { disabled } }), message);
}

function userRow(user) {
  const tokens = state.tokens.get(user.id) || [];
  const sessions = state.sessions.get(user.id) || [];
  const row = element("tr", { testid: `user-row-${user.username}` });
  row.dataset.userId = String(user.id);
  row.classList.toggle("selected", user.id === state.selected);
  row.classList.toggle("is-disabled", user.disabled);
  const roleCell = element("td");
  roleCell.append(roleSelect(user));
  const stateCell = element("td");
  stateCell.append(element("span", {
    text: user.disabled ? S.disabled : S.enabled,
    className: `badge ${user.disabled ? "badge-disabled" : "badge-online"}`,
    testid: "user-state",
  }));
  const actions = element("div", { className: "users-actions" });
  const toggle = button(user.disabled ? S.enable : S.disable, "user-toggle", () => setDisabled(user, !user.disabled));
  toggle.disabled = user.id === config.me;
  actions.append(
    toggle,
    button(S.manage, "user-manage", () => select(user.id), "btn btn-ghost"),
  );
  const actionCell = element("td");
  actionCell.append(actions);
  row.append(
    element("td", { text: user.username }),
    element("td", { text: user.display_name || "—" }),
    roleCell,
    stateCell,
    element("td", { text: when(user.last_login_at), testid: "user-last-login" }),
    element("td", { text: String(sessions.length), testid: "user-sessions-count" }),
    element("td", { text: String(tokens.filter((t) => tokenState(t) === "active").length), testid: "user-tokens-count" }),
    actionCell,
  );
  return row;
}

function render() {
  rows.replaceChildren(...state.users.map(userRow));
  renderDetail();
  table.dataset.loaded = String(Number(table.dataset.loaded || 0) + 1);
}

// ---- one user's tokens, sessions and password ------------------------------------------------------------

function select(userId) {
  state.selected = userId;
  render();
  detail.querySelector("input").focus();
}

function emptyItem() {
  return element("li", { text: S.none, className: "users-empty" });
}

function tokenItem(user, token) {
  const status = tokenState(token);
  const item = element("li", { testid: `user-token-${token.name}` });
  const facts = [S[`token_state_${status}`]];
  if (token.expires_at) facts.push(format(S.expires, { time: when(token.expires_at) }));
  if (token.last_used_at) facts.push(format(S.last_used, { time: when(token.last_used_at) }));
  item.append(element("strong", { text: token.name }), element("code", { text: token.prefix }));
  item.append(element("small", { text: facts.join(" · ") }));
  if (status === "active") {
    item.append(button(S.revoke, "user-token-revoke", async () => {
      const path = `/api/users/${user.id}/tokens/${token.id}`;
      await change(() => api(path, { method: "DELETE" }), format(S.token_revoked, { name: token.name }));
    }));
  }
  return item;
}

function sessionItem(user, session) {
  const item = element("li", { testid: "user-session" });
  const facts = [format(S.since, { time: when(session.created_at) }), format(S.last_seen, { time: when(session.last_seen_at) })];
  item.append(element("strong", { text: session.source_ip || "—" }));
  item.append(element("small", { text: [...facts, session.user_agent || ""].filter(Boolean).join(" · ") }));
  item.append(button(S.end_session, "user-session-end", async () => {
    const path = `/api/users/${user.id}/sessions/${session.id}`;
    await change(() => api(path, { method: "DELETE" }), S.session_ended);
  }));
  return item;
}

function renderDetail() {
  const user = state.users.find((candidate) => candidate.id === state.selected);
  detail.hidden = !user;
  if (!user) return;
  detailTitle.textContent = user.display_name ? `${user.username} (${user.display_name})` : user.username;
  const tokens = state.tokens.get(user.id) || [];
  const sessions = state.sessions.get(user.id) || [];
  tokenList.replaceChildren(...(tokens.length ? tokens.map((t) => tokenItem(user, t)) : [emptyItem()]));
  sessionList.replaceChildren(...(sessions.length ? sessions.map((s) => sessionItem(user, s)) : [emptyItem()]));
}

// ---- forms ---------------------------------------------------------------------------------------------

createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(createForm);
  const body = {
    username: String(data.get("username") || "").trim(),
    role: String(data.get("role")),
    password: String(data.get("password") || ""),
    display_name: String(data.get("display_name") || "").trim() || null,
  };
  const message = format(S.created, { username: body.username });
  if (await change(() => api("/api/users", { method: "POST", body }), message)) createForm.reset();
});

passwordForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const user = state.users.find((candidate) => candidate.id === state.selected);
  if (!user) return;
  const password = String(new FormData(passwordForm).get("password") || "");
  const path = `/api/users/${user.id}/password`;
  const message = format(S.password_done, { username: user.username });
  if (await change(() => api(path, { method: "PUT", body: { password } }), message)) passwordForm.reset();
});

reload();
