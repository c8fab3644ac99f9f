/* Heat Ledger web UI: the little JavaScript the pages share (no per-page inline scripts).
   - Charts: every <div class="chart" data-chart='{ECharts option as JSON}'> becomes an ECharts chart,
     on page load and after htmx swaps new content in.
   - htmx errors: a refused request (4xx/5xx) shows its message in #flash instead of failing silently. */
(function () {
  "use strict";

  function initCharts(root) {
    if (typeof window.echarts === "undefined") { return; }
    root.querySelectorAll(".chart[data-chart]").forEach(function (element) {
      if (element.dataset.chartReady) { return; }
      try {
        var chart = window.echarts.init(element, null, { renderer: "svg" });
        chart.setOption(JSON.parse(element.dataset.chart));
        element.dataset.chartReady = "1";
        window.addEventListener("resize", function () { chart.resize(); });
      } catch (error) {
        element.textContent = String(error);
      }
    });
  }

  function showError(event) {
    var flash = document.getElementById("flash");
    var xhr = event.detail && event.detail.xhr;
    if (!flash || !xhr) { return; }
    var holder = document.createElement("div");
    holder.innerHTML = xhr.responseText || "";
    var message = holder.querySelector(".error-message");
    flash.textContent = message ? message.textContent : (xhr.status + " " + xhr.statusText);
  }

  document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { initCharts(event.target); });
  document.addEventListener("htmx:responseError", showError);
  document.addEventListener("htmx:beforeRequest", function () {
    var flash = document.getElementById("flash");
    if (flash) { flash.textContent = ""; }
  });
})();
