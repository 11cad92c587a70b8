// The Live page's updates: every few seconds the tables are fetched again and put in place,
// unless the keyboard is on one of their buttons (replacing them would lose the focus).
// Without this script the page is the same, current as of its last load.
"use strict";
const live = document.getElementById("live");
if (live) {
  const every = Number(live.dataset.every) || 3000;
  const refresh = async () => {
    if (live.contains(document.activeElement)) return;
    try {
      const answer = await fetch(live.dataset.fragment, { credentials: "same-origin" });
      // Signed out (a redirect to the sign-in page): keep the tables; the next click shows it.
      if (!answer.ok || answer.redirected) return;
      live.innerHTML = await answer.text();
      live.dataset.updated = String(Date.now());
    } catch {
      // The edge is restarting or the network is down: try again next time.
    }
  };
  setInterval(refresh, every);
}
