// Live updates without a reload: each page's #live element names the URL of its own live part (the same
// server-rendered, escaped HTML); it is fetched every few seconds and put in place when it changed.
// The overview's charts read /api/series (numbers only) and are drawn with the vendored uPlot.
"use strict";

const EVERY_MS = 3000;

function stamp(text) {
  const where = document.getElementById("updated");
  if (where) where.textContent = text;
}

function followLive() {
  const live = document.getElementById("live");
  if (!live || !live.dataset.live) return;
  // Compared as this browser serializes both: the page is replaced only when its content changed, so what
  // the user is pointing at (or has selected) stays put between changes.
  const incoming = document.createElement("template");
  async function refresh() {
    try {
      const answer = await fetch(live.dataset.live, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (answer.ok) {
        incoming.innerHTML = await answer.text(); // rendered and escaped by the server's templates
        if (incoming.innerHTML !== live.innerHTML) {
          live.replaceChildren(incoming.content.cloneNode(true));
        }
        stamp("live · " + new Date().toLocaleTimeString());
      } else {
        stamp("update failed: HTTP " + answer.status);
      }
    } catch (error) {
      stamp("console unreachable");
    }
    setTimeout(refresh, EVERY_MS);
  }
  setTimeout(refresh, EVERY_MS);
}

function chart(target, title, labels, colors, data, unit) {
  const series = [{}].concat(labels.map((label, i) => ({ label: label, stroke: colors[i], width: 2, spanGaps: false })));
  const options = {
    title: title,
    width: Math.max(320, target.clientWidth || 640),
    height: 220,
    series: series,
    axes: [{}, { label: unit }],
    scales: { x: { time: true } },
  };
  return new uPlot(options, data, target);
}

function followCharts() {
  const jobsTarget = document.getElementById("chart-jobs");
  const latencyTarget = document.getElementById("chart-latency");
  if (!jobsTarget || typeof uPlot === "undefined") return;
  let jobsChart = null;
  let latencyChart = null;
  async function refresh() {
    try {
      const answer = await fetch(jobsTarget.dataset.series, { cache: "no-store" });
      if (answer.ok) {
        const s = await answer.json();
        const jobs = [s.minutes, s.submitted, s.completed, s.failed];
        const latency = [s.minutes, s.p50, s.p95];
        document.getElementById("sampled").hidden = !s.sampled;
        if (jobsChart) {
          jobsChart.setData(jobs);
          latencyChart.setData(latency);
        } else {
          jobsChart = chart(jobsTarget, "Jobs per minute", ["submitted", "completed", "failed"],
            ["#3b82f6", "#16a34a", "#dc2626"], jobs, "jobs");
          latencyChart = chart(latencyTarget, "Latency (submitted to completed)", ["p50", "p95"],
            ["#7c3aed", "#f59e0b"], latency, "seconds");
        }
      }
    } catch (error) {
      stamp("charts unavailable");
    }
    setTimeout(refresh, EVERY_MS * 3);
  }
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  followLive();
  followCharts();
});
