// Draws each chart the server described: <div class="chart" data-options="..."> holds Apache ECharts options as JSON
// (the script Vizor.ECharts ships, served at /web-assets/echarts/), serialized on the server with the same figures as
// the table beside it (the accessible alternative). Nothing is fetched or computed here, only handed over.
"use strict";
(function () {
  function draw() {
    document.querySelectorAll("div.chart[data-options]").forEach(function (element) {
      if (element.dataset.chartDrawn || !window.echarts) { return; }
      var chart = window.echarts.init(element, null, { renderer: "svg" });
      chart.setOption(JSON.parse(element.getAttribute("data-options")));
      element.dataset.chartDrawn = "true";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
