// Small helpers the pages share. Nothing here moves a page on by itself: countdowns only show time left.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-deadline")) - now) / 1000);
      var late = left < 0;
      var s = Math.abs(left), m = Math.floor(s / 60), r = s % 60;
      var text = (late ? (el.getAttribute("data-late") || "超时 ") : "") + m + ":" + (r < 10 ? "0" : "") + r;
      el.textContent = text;
      el.classList.toggle("late", late);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  // A form submitted twice (a double tap) sends once: the button is disabled after the first press.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset.submitted === "1") { ev.preventDefault(); return; }
    form.dataset.submitted = "1";
    setTimeout(function () { form.dataset.submitted = ""; }, 4000);
  }, true);
  // Charts: any element with data-chart holds an ECharts option as JSON (the page builds it on the server).
  function charts() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "1";
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(el.getAttribute("data-chart")));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  document.addEventListener("DOMContentLoaded", charts);
  document.addEventListener("htmx:afterSettle", charts);
})();
