// Draws every chart of a console page from the JSON the server put next to it
// (<script type="application/json" data-chart-for="id">): no data fetched, nothing inline.
(function () {
  "use strict";
  var yuan = function (fen) { return (fen / 100).toFixed(2); };
  // an axis in yuan, large amounts in 万 (¥1,400,000.00 reads as 140万)
  var axisYuan = function (fen) {
    var amount = fen / 100;
    if (Math.abs(amount) >= 10000) return (amount / 10000).toFixed(amount >= 100000 ? 0 : 1) + "万";
    return amount.toFixed(0);
  };
  function option(chart) {
    var money = chart.money;
    var format = money ? function (v) { return yuan(v); } : null;
    if (chart.kind === "pie") {
      var data = chart.x.map(function (name, i) { return { name: name, value: chart.series[0][1][i] }; });
      return {
        animation: false,
        tooltip: { trigger: "item", valueFormatter: format || undefined },
        legend: { type: "scroll", bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: data,
                   label: { formatter: "{b}: {d}%" } }]
      };
    }
    var dual = chart.series.some(function (s) { return s[2] === "line"; }) &&
               chart.series.some(function (s) { return (s[2] || chart.kind) === "bar"; });
    return {
      animation: false,  // staff read the figures; a chart growing into place only delays them
      tooltip: { trigger: "axis", valueFormatter: format || undefined },
      legend: { type: "scroll", top: 0 },
      grid: { left: 60, right: dual ? 60 : 20, top: 36, bottom: 60 },
      xAxis: { type: "category", data: chart.x, axisLabel: { hideOverlap: true } },
      yAxis: dual ? [{ type: "value" }, { type: "value" }]
                  : [{ type: "value", axisLabel: money ? { formatter: axisYuan } : {} }],
      dataZoom: chart.x.length > 40 ? [{ type: "inside" }, { type: "slider", height: 18 }] : [],
      series: chart.series.map(function (s) {
        var kind = s[2] || chart.kind;
        return { name: s[0], type: kind, data: s[1], stack: chart.stacked && kind === "bar" ? "all" : undefined,
                 yAxisIndex: dual && kind === "line" ? 1 : 0, smooth: kind === "line", showSymbol: false };
      })
    };
  }
  document.querySelectorAll("script[data-chart-for]").forEach(function (data) {
    var box = document.getElementById(data.getAttribute("data-chart-for"));
    var chart = echarts.init(box, null, { renderer: "svg" });
    chart.setOption(option(JSON.parse(data.textContent)));
    box.setAttribute("data-drawn", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
