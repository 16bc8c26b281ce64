// Draws every chart of the page with Apache ECharts (the script Vizor.ECharts ships, served at /web-assets/echarts/).
// A chart is <div data-chart-options="ID"> beside <script type="application/json" id="ID"> holding the options the
// server serialized: no charting code here, only the hand-over. Each chart also has a table with the same figures.
(function () {
  function draw() {
    document.querySelectorAll('[data-chart-options]').forEach(function (element) {
      if (element.dataset.chartDrawn) { return; }
      var source = document.getElementById(element.dataset.chartOptions);
      if (!source || !window.echarts) { return; }
      var chart = window.echarts.init(element, null, { renderer: 'svg' });
      chart.setOption(JSON.parse(source.textContent));
      element.dataset.chartDrawn = 'true';
      window.addEventListener('resize', function () { chart.resize(); });
    });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', draw);
  } else {
    draw();
  }
})();
