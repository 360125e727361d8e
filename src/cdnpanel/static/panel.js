// Charts of the control panel, drawn by uPlot (served by the panel itself). The data comes embedded in
// the page as JSON; the last-hour traffic view refreshes it from the JSON API every 30 s.
(function () {
  "use strict";
  const charts = {};
  window.cdnCharts = charts; // read by the browser tests

  function fmtBits(v) {
    if (v == null) return "–";
    const units = [[1e9, "Gbit/s"], [1e6, "Mbit/s"], [1e3, "kbit/s"]];
    for (const [size, unit] of units) if (Math.abs(v) >= size) return (v / size).toFixed(v / size >= 100 ? 0 : 1) + " " + unit;
    return v.toFixed(0) + " bit/s";
  }
  function fmtNum(v) { return v == null ? "–" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)); }
  function fmtPct(v) { return v == null ? "–" : (v * 100).toFixed(0) + " %"; }
  function fmtMbit(v) { return v == null ? "–" : v.toFixed(v >= 100 ? 0 : 2) + " Mbit/s"; }

  function utcDates(u, splits, axisIdx, space, incr) {
    return splits.map(function (s) {
      const d = new Date(s * 1000), iso = d.toISOString();
      return incr >= 86400 ? iso.slice(5, 10) : (incr >= 3600 && d.getUTCHours() === 0 ? iso.slice(5, 10) : iso.slice(11, 16));
    });
  }

  // The y axis as wide as its longest label (uPlot's fixed default clips "10.0 Mbit/s").
  function axisSize(u, values) {
    if (!values) return 50;
    const longest = values.reduce(function (n, v) { return Math.max(n, String(v).length); }, 0);
    return Math.ceil(18 + longest * 7.5);
  }

  function make(id, series, data, fmt) {
    const el = document.getElementById(id);
    if (!el) return null;
    const opts = {
      width: el.clientWidth || 600,
      height: el.clientWidth < 500 ? 200 : 260,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      legend: { live: true },
      cursor: { focus: { prox: 16 } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        { values: utcDates, label: "UTC", labelSize: 18 },
        { values: function (u, vals) { return vals.map(fmt); }, size: axisSize },
      ],
      series: [{ label: "UTC", value: function (u, v) { return v == null ? "–" : new Date(v * 1000).toISOString().slice(0, 16).replace("T", " "); } }].concat(series),
    };
    const chart = new uPlot(opts, data, el);
    charts[id] = chart;
    return chart;
  }

  function line(label, color, fmt, extra) {
    return Object.assign({ label: label, stroke: color, width: 1.5, value: function (u, v) { return fmt(v); }, points: { show: false } }, extra || {});
  }

  function trafficData(d) {
    const step = d.step, s = d.series;
    const perSec = function (xs) { return (xs || []).map(function (v) { return v / step; }); };
    return {
      bandwidth: [d.t, s.bits_per_second || []],
      requests: [d.t, perSec(s.requests)],
      status: [d.t, perSec(s.status_2xx), perSec(s.status_3xx), perSec(s.status_4xx), perSec(s.status_5xx)],
      cache: [d.t, s.hit_ratio || []],
    };
  }

  function traffic(d) {
    const data = trafficData(d);
    make("chart-bandwidth", [line("Bandwidth", "#2358c4", fmtBits, { fill: "rgba(35,88,196,0.12)" })], data.bandwidth, fmtBits);
    make("chart-requests", [line("Requests/s", "#1a7f4b", fmtNum, { fill: "rgba(26,127,75,0.12)" })], data.requests, fmtNum);
    make("chart-status", [line("2xx", "#1a7f4b", fmtNum), line("3xx", "#6b5bd2", fmtNum), line("4xx", "#a15c00", fmtNum), line("5xx", "#b3261e", fmtNum)], data.status, fmtNum);
    make("chart-cache", [line("Hit ratio", "#2358c4", fmtPct, { spanGaps: false })], data.cache, fmtPct);
    if (d.range === "hour" && d.api) {
      setInterval(function () { refresh(d.api); }, 30000);
    }
  }

  function refresh(url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (d) {
        const data = trafficData(d);
        const map = { "chart-bandwidth": data.bandwidth, "chart-requests": data.requests, "chart-status": data.status, "chart-cache": data.cache };
        Object.keys(map).forEach(function (id) { if (charts[id]) charts[id].setData(map[id]); });
        const c = document.querySelector(".complete strong");
        if (c && d.complete_up_to) c.textContent = new Date(d.complete_up_to * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
        document.body.dataset.refreshed = String(Date.now());
      })
      .catch(function () { document.body.dataset.refreshError = "1"; });
  }

  function usage(d) {
    const f = d.five_minute, n = f.bytes.length;
    const t = new Array(n), mbit = new Array(n), p95 = new Array(n);
    for (let i = 0; i < n; i++) { t[i] = f.start + i * f.step; mbit[i] = f.bytes[i] * 8 / f.step / 1e6; p95[i] = d.p95_mbit_per_second; }
    make("chart-usage", [
      line("5-minute bandwidth", "#2358c4", fmtMbit, { fill: "rgba(35,88,196,0.12)" }),
      line("95th percentile", "#b3261e", fmtMbit, { dash: [6, 4], width: 2 }),
    ], [t, mbit, p95], fmtMbit);
  }

  function resize() {
    Object.keys(charts).forEach(function (id) {
      const el = document.getElementById(id);
      charts[id].setSize({ width: el.clientWidth, height: el.clientWidth < 500 ? 200 : 260 });
    });
  }

  const td = document.getElementById("traffic-data");
  if (td) traffic(JSON.parse(td.textContent));
  const ud = document.getElementById("usage-data");
  if (ud) usage(JSON.parse(ud.textContent));
  let timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(resize, 150); });
  document.body.dataset.chartsReady = String(Object.keys(charts).length);
})();
