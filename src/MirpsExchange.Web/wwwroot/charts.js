// Draws each chart the server described: <div class="chart" data-options="..."> holds Apache ECharts options as JSON,
// serialized on the server with the same figures as the table beside it (the accessible alternative). No data is
// fetched or computed here.
"use strict";
document.querySelectorAll("div.chart[data-options]").forEach(function (element) {
    var chart = echarts.init(element, null, { renderer: "canvas" });
    chart.setOption(JSON.parse(element.getAttribute("data-options")));
    window.addEventListener("resize", function () { chart.resize(); });
});
