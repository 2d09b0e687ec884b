/* The elder's usage charts: hourly bars, the 12-hour total, and the inactivity threshold line. */
"use strict";
(() => {
  const elderId = document.getElementById("profile").dataset.elder;
  const hourFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", hour12: false });
  const HOUR = 3600 * 1000;
  const COLORS = { water_m3: "#1d6fd8", power_kwh: "#dc6803", steps: "#079455", motion: "#079455" };

  function hours(start, end) {
    const out = [];
    for (let t = new Date(start).getTime(); t < new Date(end).getTime(); t += HOUR) out.push(t);
    return out;
  }
  function label(t) {
    const p = Object.fromEntries(hourFmt.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
    return `${p.month}-${p.day} ${p.hour}时`;
  }

  function draw(metric, element, data) {
    const threshold = data.thresholds[metric];
    const grid = hours(data.start, data.end);
    const values = new Map(data.series[metric].map(([iso, v]) => [new Date(iso).getTime(), v]));
    const hourly = grid.map((t) => (values.has(t) ? values.get(t) : null));
    const span = threshold ? threshold.hours : 12;
    const rolling = hourly.map((_, i) => {
      const slice = hourly.slice(Math.max(0, i - span + 1), i + 1);
      if (slice.every((v) => v === null)) return null;
      return Number(slice.reduce((s, v) => s + (v || 0), 0).toFixed(4));
    });
    const chart = echarts.init(element, null, { renderer: "canvas" });
    const color = COLORS[metric];
    chart.setOption({
      animation: false,
      color: [color, "#344054"],
      grid: { left: 8, right: 8, top: 52, bottom: 28, containLabel: true },
      legend: { top: 0, left: 0, itemWidth: 14, itemHeight: 8, textStyle: { fontSize: 12 } },
      tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "无数据" : v + " " + (threshold ? threshold.unit : "")) },
      xAxis: { type: "category", data: grid.map(label), axisLabel: { interval: 23, fontSize: 11, formatter: (v) => v.slice(0, 5) }, axisTick: { interval: 23 } },
      yAxis: [
        { type: "value", name: "每小时", nameTextStyle: { fontSize: 11 }, splitLine: { lineStyle: { color: "#eef1f5" } }, axisLabel: { fontSize: 11 } },
        { type: "value", name: "12小时累计", nameTextStyle: { fontSize: 11 }, splitLine: { show: false }, axisLabel: { fontSize: 11 } },
      ],
      series: [
        { name: "每小时", type: "bar", data: hourly, barWidth: "70%", itemStyle: { color, opacity: 0.55 } },
        { name: `近${span}小时累计`, type: "line", yAxisIndex: 1, data: rolling, showSymbol: false, connectNulls: false,
          lineStyle: { width: 2, color: "#344054" },
          markLine: threshold ? {
            symbol: "none", silent: true, lineStyle: { color: "#d92d20", type: "dashed", width: 2 },
            label: { formatter: "告警线 " + threshold.amount + " " + threshold.unit, color: "#d92d20", fontSize: 11, position: "insideEndTop" },
            data: [{ yAxis: threshold.amount }] } : undefined },
      ],
    });
    element.dataset.points = String(hourly.filter((v) => v !== null).length);
    element.title = threshold ? threshold.label : "";
    window.addEventListener("resize", () => chart.resize());
    return chart;
  }

  api("GET", `/api/elders/${encodeURIComponent(elderId)}/usage?days=7`).then((data) => {
    draw("water_m3", document.getElementById("chart-water_m3"), data);
    draw("power_kwh", document.getElementById("chart-power_kwh"), data);
    const activity = data.series.steps.length || !data.series.motion.length ? "steps" : "motion";
    const box = document.getElementById("chart-steps");
    if (activity === "motion") box.previousElementSibling.textContent = "活动 (人体感应次数)";
    draw(activity, box, data);
    document.body.dataset.charts = "ready";
  }).catch((e) => toast("图表加载失败：" + e.message));
})();
