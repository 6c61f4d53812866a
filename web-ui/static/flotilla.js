// Flotilla dashboard: live updates over server-sent events, and the charts. Pages are server-rendered; htmx swaps
// fragments. No build step: this file is served as written.
(function () {
  "use strict";

  // Show error pages (4xx/5xx) too: they carry the API's message for the user.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "[45]..", swap: true, error: false }
  ];

  var source = null;
  var LIVE_PARTS = ["sandboxes", "nodes", "density", "boot"];
  var charts = {};

  function setConnection(text) {
    var box = document.getElementById("connection");
    if (box) {
      box.textContent = text;
      box.hidden = !text;
    }
  }

  // One EventSource per window; hx-boost keeps it open across page changes.
  function connect() {
    if (source || !document.getElementById("main") || !window.EventSource) {
      return;
    }
    source = new EventSource("/ui/events");
    LIVE_PARTS.forEach(function (name) {
      source.addEventListener(name, function () { refresh(name); });
    });
    // The stream tells of changes from when it connects: whatever changed between the page's rendering (or a lost
    // connection) and this hello is caught up by fetching every live part once.
    source.addEventListener("hello", function () {
      setConnection("");
      LIVE_PARTS.forEach(refresh);
    });
    source.onerror = function () {
      setConnection("Live updates paused: the control plane cannot be reached. Retrying…");
      // A refused stream (e.g. the session ended: 401) is not retried by the browser itself.
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        setTimeout(connect, 5000);
      }
    };
  }

  function refresh(name) {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      if (element.getAttribute("data-live").split(" ").indexOf(name) < 0) {
        return;
      }
      if (element.hasAttribute("data-chart")) {
        loadChart(element);
      } else {
        triggerLive(element);
      }
    });
  }

  // A live fragment re-fetches itself on "live" and its answer replaces it (outerHTML). htmx queues a trigger that
  // comes while the fragment's request is in flight on the element being replaced, so that change would be lost
  // (a page stayed on STARTING under load): remember it, and fetch once more when the new fragment has settled.
  var liveBusy = {};
  var liveStale = {};

  function triggerLive(element) {
    if (element.id && liveBusy[element.id]) {
      liveStale[element.id] = true;
      return;
    }
    htmx.trigger(element, "live");
  }

  function liveDone(id) {
    if (!id || !liveBusy[id]) {
      return;
    }
    delete liveBusy[id];
    if (liveStale[id]) {
      delete liveStale[id];
      var again = document.getElementById(id);
      if (again) {
        htmx.trigger(again, "live");
      }
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id && elt.hasAttribute("data-live")) {
      liveBusy[elt.id] = true;
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id) {
      liveDone(elt.id);
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id && !event.detail.successful) {
      liveDone(elt.id);
    }
  });

  document.addEventListener("htmx:sendError", function () {
    setConnection("The control plane cannot be reached; the page shows the last state it sent.");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) {
      setConnection("");
    }
  });

  // ---- charts (Chart.js) ----
  var palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
                 "#4f46e5", "#059669", "#7c3aed", "#b91c1c"];

  function timeLabel(iso) {
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    if (charts[id] && charts[id].canvas === canvas) {
      charts[id].data = config.data;
      charts[id].update("none");
      return;
    }
    if (charts[id]) {
      charts[id].destroy();
    }
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "nearest", intersect: false } }, config.options || {});
    charts[id] = new Chart(canvas, config);
  }

  function densityCharts(block, data) {
    var status = block.querySelector(".chart-status");
    if (!data.times.length) {
      status.textContent = "No samples in this window yet: density is sampled from node heartbeats every sample interval.";
    } else {
      status.textContent = "";
    }
    var labels = data.times.map(timeLabel);
    var vmSets = data.nodes.map(function (n, i) {
      return { label: n.node, data: n.vms, borderColor: palette[i % palette.length], spanGaps: true, pointRadius: 0 };
    });
    vmSets.push({ label: "fleet mean", data: data.meanVmsPerNode, borderColor: "#111827", borderDash: [6, 4], pointRadius: 0 });
    var memSets = data.nodes.map(function (n, i) {
      return { label: n.node, data: n.memoryPerVm, borderColor: palette[i % palette.length], spanGaps: true, pointRadius: 0 };
    });
    memSets.push({ label: "fleet mean", data: data.meanMemoryPerVm, borderColor: "#111827", borderDash: [6, 4], pointRadius: 0 });
    draw("density-vms", { type: "line", data: { labels: labels, datasets: vmSets },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "VMs" } } } } });
    draw("density-memory", { type: "line", data: { labels: labels, datasets: memSets },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "MiB per VM" } } } } });
    var last = data.meanVmsPerNode.length ? data.meanVmsPerNode[data.meanVmsPerNode.length - 1] : null;
    var lastMem = data.meanMemoryPerVm.length ? data.meanMemoryPerVm[data.meanMemoryPerVm.length - 1] : null;
    document.getElementById("density-summary").textContent = data.times.length
      ? data.nodesSampled + " nodes sampled; latest fleet mean " + last + " VMs per node"
        + (lastMem === null ? "" : ", " + lastMem + " MiB per VM") + "."
      : "";
  }

  function bootCharts(block, data) {
    var status = block.querySelector(".chart-status");
    status.textContent = data.count ? "" : "No boot times reported in this window yet.";
    document.getElementById("boot-summary").textContent = data.count
      ? data.count + " boots: p50 " + data.p50 + " ms, p90 " + data.p90 + " ms, p99 " + data.p99 + " ms, slowest " + data.max + " ms."
      : "";
    draw("boot-histogram", { type: "bar", data: {
        labels: data.histogram.map(function (b) { return b.from + "–" + b.to + " ms"; }),
        datasets: [{ label: "boots", data: data.histogram.map(function (b) { return b.count; }), backgroundColor: "#2563eb" }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
    draw("boot-trend", { type: "line", data: {
        labels: data.trend.map(function (p) { return timeLabel(p.at); }),
        datasets: [
          { label: "p50", data: data.trend.map(function (p) { return p.p50; }), borderColor: "#2563eb" },
          { label: "p99", data: data.trend.map(function (p) { return p.p99; }), borderColor: "#dc2626" }] },
      options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } } });
  }

  function loadChart(block) {
    var status = block.querySelector(".chart-status");
    fetch(block.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location = "/ui/login?next=" + encodeURIComponent(window.location.pathname + window.location.search);
          return null;
        }
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body.detail || ("the control plane answered " + response.status));
          }
          return body;
        });
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        if (block.getAttribute("data-chart") === "density") {
          densityCharts(block, data);
        } else {
          bootCharts(block, data);
        }
        block.setAttribute("data-loaded", "true");
      })
      .catch(function (error) {
        status.textContent = "The chart data could not be loaded: " + error.message;
      });
  }

  // ---- console and logs: server-sent events the control plane relays from the sandbox's node agent ----
  var CONSOLE_LIMIT = 200000;
  var logBoxes = [];

  var LOGS_RETRY_MS = 3000;

  function openLogs(box, retry) {
    if (box.logSource) {
      box.logSource.close();
    }
    clearTimeout(box.logRetry);
    var select = box.querySelector(".log-source");
    var status = box.querySelector(".console-status");
    var output = box.querySelector(".console-output");
    var url = box.getAttribute("data-logs");
    if (select && select.value) {
      url += "?container=" + encodeURIComponent(select.value);
    }
    if (!retry) {
      output.textContent = "";
      status.textContent = "Connecting to the node…";
      box.setAttribute("data-state", "connecting");
    }
    var events = new EventSource(url);
    box.logSource = events;
    function finish(state, text) {
      events.close();
      status.textContent = text;
      box.setAttribute("data-state", state);
    }
    events.addEventListener("ready", function (event) {
      var info = JSON.parse(event.data);
      // A reconnect sends the retained output again: start over rather than show it twice.
      output.textContent = "";
      status.textContent = "Live: the " + info.source + " of sandbox " + info.sandbox + ", from node " + info.node + ".";
      box.setAttribute("data-state", "live");
    });
    events.addEventListener("output", function (event) {
      var atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
      output.textContent = (output.textContent + JSON.parse(event.data)).slice(-CONSOLE_LIMIT);
      if (atBottom) {
        output.scrollTop = output.scrollHeight;
      }
    });
    events.addEventListener("end", function (event) {
      finish("ended", "Ended: " + JSON.parse(event.data) + ".");
    });
    events.addEventListener("failure", function (event) {
      var problem = JSON.parse(event.data);
      var text = problem.title + " (" + problem.status + "): " + problem.detail;
      // 409: the node has not launched the sandbox yet (or it moved); that passes, so look again shortly.
      if (problem.status === 409) {
        finish("waiting", text + ". Trying again in a few seconds…");
        box.logRetry = setTimeout(function () {
          if (document.body.contains(box)) {
            openLogs(box, true);
          }
        }, LOGS_RETRY_MS);
      } else {
        finish("failed", text);
      }
    });
    events.onerror = function () {
      if (events.readyState === EventSource.CLOSED) {
        finish("failed", "The log stream was refused; your session may have ended. Reload the page to sign in again.");
      } else {
        status.textContent = "The log stream was interrupted; reconnecting…";
      }
    };
  }

  function connectConsoles() {
    // Pages swapped out by navigation leave their streams behind: close them.
    logBoxes = logBoxes.filter(function (box) {
      if (!document.body.contains(box)) {
        clearTimeout(box.logRetry);
        if (box.logSource) {
          box.logSource.close();
        }
        return false;
      }
      return true;
    });
    document.querySelectorAll("[data-logs]:not([data-connected])").forEach(function (box) {
      box.setAttribute("data-connected", "true");
      logBoxes.push(box);
      var select = box.querySelector(".log-source");
      if (select) {
        select.addEventListener("change", function () { openLogs(box, false); });
      }
      openLogs(box, false);
    });
  }

  document.addEventListener("htmx:afterSettle", connectConsoles);

  function init() {
    connect();
    connectConsoles();
    document.querySelectorAll("[data-chart]").forEach(loadChart);
  }

  document.addEventListener("DOMContentLoaded", init);

  // A page left for another may be kept whole in the back/forward cache, its event streams still open. A browser
  // allows six connections per server over HTTP/1.1: a few cached dashboard pages would take them all and leave
  // every later request (a form post, a fragment) queued forever. So close the streams when the page is hidden and
  // open them again if it is shown from that cache.
  window.addEventListener("pagehide", function () {
    if (source) {
      source.close();
      source = null;
    }
    logBoxes.forEach(function (box) {
      clearTimeout(box.logRetry);
      if (box.logSource) {
        box.logSource.close();
        box.logSource = null;
      }
    });
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      connect();
      logBoxes.forEach(function (box) { openLogs(box, false); });
    }
  });
  // hx-boost swaps the body on navigation: draw the new page's charts.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt === document.body || (event.detail.elt && event.detail.elt.tagName === "BODY")) {
      init();
    }
  });
})();
