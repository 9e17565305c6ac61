// aqueue dashboard: confirm before destructive actions, and auto-refresh the
// page's content while its box is ticked and the tab is visible. No build step.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function refreshBox() {
  return document.querySelector("input[data-refresh]");
}

async function refresh() {
  const box = refreshBox();
  if (!box || !box.checked || document.visibilityState !== "visible") {
    return;
  }
  try {
    const response = await fetch(window.location.href, { headers: { "Accept": "text/html" } });
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("content");
    const current = document.getElementById("content");
    // Keep the user's typing: do not swap while a filter field has focus.
    const focused = document.activeElement;
    const typing = current && current.contains(focused) && focused !== box &&
      ["INPUT", "SELECT", "TEXTAREA"].includes(focused.tagName);
    // Nor while rows are ticked for an action: the swap would untick them.
    const ticked = current && current.querySelector("input[name=ids]:checked");
    if (fresh && current && !typing && !ticked) {
      current.replaceWith(fresh);
      const freshBox = refreshBox();
      if (freshBox) {
        freshBox.checked = true;  // the user chose to refresh: keep refreshing
      }
      document.querySelector("footer").textContent =
        page.querySelector("footer").textContent;
    }
  } catch (error) {
    // The server is restarting or unreachable: try again at the next tick.
  }
}

function schedule() {
  const box = refreshBox();
  const seconds = box ? Number(box.getAttribute("data-refresh")) || 5 : 5;
  window.setTimeout(async () => {
    await refresh();
    schedule();
  }, seconds * 1000);
}

schedule();
