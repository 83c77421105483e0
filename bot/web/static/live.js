// Live updates for a run page: the bot's own SSE tail says "something new", and the
// page fetches the changed parts rendered by the server (same HTML as a reload).
// While the panel says the run's head is not yet in the signed log, it asks again
// every few seconds (the log takes events in within seconds), open run or not.
(function () {
  "use strict";
  var main = document.getElementById("run");
  if (!main || !window.fetch) {
    return;
  }
  var live = document.getElementById("live");
  var seq = parseInt(main.dataset.seq, 10) || 0;
  var timer = null;
  var busy = false;
  var again = false;
  var ended = false;
  var logTimer = null;
  var logTries = 0;

  function withParam(url, param) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + param;
  }

  function say(text, state) {
    live.hidden = false;
    live.textContent = text;
    live.setAttribute("data-state", state);
  }

  function logPending() {
    return document.querySelector('#panel [data-log="pending"]') !== null;
  }

  function watchLog() {
    if (logTimer === null && logTries < 30 && logPending()) {
      logTries += 1;
      logTimer = setTimeout(function () {
        logTimer = null;
        refresh();
      }, 2000);
    }
  }

  function apply(part) {
    // the same events again: news only when the panel was waiting for the log
    if (part.open && (part.seq < seq || (part.seq === seq && !logPending()))) {
      return;
    }
    document.getElementById("panel").innerHTML = part.panel;
    if (part.rows) {
      document.getElementById("timeline").insertAdjacentHTML("beforeend", part.rows);
    }
    seq = part.seq;
    main.dataset.seq = String(seq);
    document.getElementById("count").textContent = part.count;
    if (!part.open) {
      main.dataset.open = "0";
    }
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(withParam(main.dataset.live, "after=" + seq), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (part) {
        if (part) {
          apply(part);
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
        watchLog();
      });
  }

  function schedule() {
    if (timer === null) {
      timer = setTimeout(function () {
        timer = null;
        refresh();
      }, 100);
    }
  }

  watchLog();
  if (main.dataset.open !== "1" || !window.EventSource) {
    return;
  }
  var source = new EventSource(withParam(main.dataset.events, "format=sse&after=" + seq));
  source.addEventListener("open", function () {
    say("● live", "on");
  });
  source.addEventListener("trail", schedule);
  source.addEventListener("end", function () {
    ended = true;
    source.close();
    say("run ended", "off");
    schedule();
  });
  source.addEventListener("error", function () {
    if (!ended) {
      say("reconnecting…", "wait");
    }
  });
})();
