// The overview page keeps itself current: every few seconds it fetches its dynamic parts (station status,
// camera tiles) from GET /overview/parts and swaps them in when they changed. No full reload, so the page
// does not flash or lose its scroll position. A signed-out session (the fetch lands on /login) stops it.

const parts = document.getElementById("overview-parts");
let shownHtml = null; // the last parts swapped in: unchanged parts are left alone (no flicker, no re-announced alert)

function dropBrokenThumbnails(root) {
  root.querySelectorAll("img.camera-thumb").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) img.remove();
    else img.addEventListener("error", () => img.remove(), { once: true });
  });
}

async function refresh(url) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  } catch (error) {
    parts.dataset.stale = "offline";
    return true;
  }
  if (response.redirected || !response.ok) {
    parts.dataset.stale = String(response.status);
    return !response.redirected;
  }
  const html = await response.text();
  delete parts.dataset.stale;
  if (html !== shownHtml) {
    shownHtml = html;
    const fresh = new DOMParser().parseFromString(html, "text/html").body;
    parts.replaceChildren(...fresh.childNodes);
    dropBrokenThumbnails(parts);
  }
  parts.dataset.refreshedAt = new Date().toISOString();
  return true;
}

if (parts) {
  dropBrokenThumbnails(parts);
  const url = parts.dataset.refreshUrl;
  const periodMs = Math.max(2, Number(parts.dataset.refreshS) || 15) * 1000;
  const tick = async () => {
    if (document.visibilityState === "hidden" || await refresh(url)) window.setTimeout(tick, periodMs);
  };
  window.setTimeout(tick, periodMs);
}
