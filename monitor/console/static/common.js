/* Shared helpers of the console pages: escaping, Beijing time, API calls, phone reveal. */
"use strict";
const TZ = "Asia/Shanghai";
const timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const clockFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "long", day: "numeric" });

/* Icons drawn inline (no emoji: a duty PC may lack a colour-emoji font). */
const ICONS = {
  bell: '<path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/>',
  bellOff: '<path d="M8.7 3A6 6 0 0 1 18 8a21.3 21.3 0 0 0 .6 5"/><path d="M17 17H3s3-2 3-9a4.67 4.67 0 0 1 .3-1.7"/><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/><path d="m2 2 20 20"/>',
  phone: '<path d="M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1.9.4 1.8.7 2.7a2 2 0 0 1-.5 2.1L8 9.8a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.7.7a2 2 0 0 1 1.7 2z"/>',
};
function icon(name) {
  return `<svg class="icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[name]}</svg>`;
}

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function fmtTime(iso) { return iso ? timeFmt.format(new Date(iso)) : "—"; }
function fmtDate(d) { return dateFmt.format(d); }
function ago(iso) {
  if (!iso) return "从未";
  const s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return "刚刚";
  if (s < 3600) return Math.floor(s / 60) + "分钟前";
  if (s < 86400) return Math.floor(s / 3600) + "小时" + (Math.floor(s / 60) % 60 ? Math.floor(s / 60) % 60 + "分" : "") + "前";
  return Math.floor(s / 86400) + "天前";
}
function toast(text) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 3500);
}
async function api(method, url, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(body); }
  const response = await fetch(url, options);
  if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("未登录"); }
  const data = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const detail = data && data.detail;
    const error = new Error(typeof detail === "string" ? detail : "操作失败（" + response.status + "）");
    error.status = response.status; throw error;
  }
  return data;
}
/* One click shows the real numbers to call back; the server writes the reveal to the access log. */
async function revealPhones(elderId, target, alarmId) {
  const url = "/api/elders/" + encodeURIComponent(elderId) + "/phones" + (alarmId ? "?alarm_id=" + alarmId : "");
  const data = await api("POST", url);
  target.innerHTML = data.people.map((p) =>
    `<div class="phone"><span>${esc(p.role)} · ${esc(p.name)}</span><a href="tel:${esc(p.phone)}">${esc(p.phone)}</a></div>`
  ).join("") + `<p class="phones-note">已记入访问日志 · 请勿外传</p>`;
  target.hidden = false;
}
function startClock() {
  const el = document.getElementById("clock");
  if (!el) return;
  const tick = () => { el.textContent = "北京时间 " + clockFmt.format(new Date()); };
  tick(); setInterval(tick, 1000);
}
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-reveal]");
  if (!button) return;
  button.disabled = true;
  revealPhones(button.dataset.reveal, document.querySelector(button.dataset.target), button.dataset.alarm)
    .then(() => { button.hidden = true; })
    .catch((e) => { toast(e.message); button.disabled = false; });
});
startClock();
