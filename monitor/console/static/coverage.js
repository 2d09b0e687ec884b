/* Weekly visit coverage from /api/coverage, grouped by street and community; record a visit. */
"use strict";
(() => {
  const L = window.LABELS;
  const params = new URLSearchParams(location.search);
  let week = params.get("week") || document.getElementById("week-label").textContent.trim() || isoWeek(new Date());

  function isoWeek(date) {
    const d = new Date(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()));
    const day = d.getUTCDay() || 7;
    d.setUTCDate(d.getUTCDate() + 4 - day);
    const year = d.getUTCFullYear();
    const week1 = new Date(Date.UTC(year, 0, 1));
    const n = Math.ceil(((d - week1) / 86400000 + 1) / 7);
    return `${year}-W${String(n).padStart(2, "0")}`;
  }
  function weekMonday(text) {
    const [y, w] = text.split("-W").map(Number);
    const jan4 = new Date(Date.UTC(y, 0, 4));
    const monday = new Date(jan4); monday.setUTCDate(jan4.getUTCDate() - ((jan4.getUTCDay() || 7) - 1) + (w - 1) * 7);
    return monday;
  }
  function shift(text, weeks) {
    const monday = weekMonday(text); monday.setUTCDate(monday.getUTCDate() + weeks * 7 + 3);
    return isoWeek(new Date(monday.getUTCFullYear(), monday.getUTCMonth(), monday.getUTCDate()));
  }
  function pct(covered, required) { return required ? Math.round((covered / required) * 100) : 100; }
  function bar(rate) {
    const cls = rate >= 95 ? "" : rate >= 80 ? "low" : "bad";
    return `<div class="rate"><div class="bar ${cls}" style="flex:1"><i style="width:${rate}%"></i></div><b>${rate}%</b></div>`;
  }
  function contactsText(contacts) {
    const parts = Object.entries(contacts || {}).filter(([, n]) => n > 0).map(([m, n]) => `${L.visit_method[m] || m} ${n}`);
    return parts.length ? parts.join("，") : "—";
  }

  function byCommunity(data) {
    if (Array.isArray(data.by_community)) return data.by_community;
    const groups = new Map();
    for (const e of data.elders || []) {
      const key = e.community;
      const g = groups.get(key) || { street: e.street || "", community: key, community_name: e.community_name || key, required: 0, covered: 0, uncovered: 0, contacts: {} };
      g.required += 1; e.covered ? (g.covered += 1) : (g.uncovered += 1);
      for (const [m, n] of Object.entries(e.contacts || {})) g.contacts[m] = (g.contacts[m] || 0) + n;
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  function renderCommunities(rows) {
    const streets = new Map();
    for (const r of rows) { const s = r.street || "未分街道"; if (!streets.has(s)) streets.set(s, []); streets.get(s).push(r); }
    const html = [...streets.entries()].sort().map(([street, list]) => {
      const req = list.reduce((s, r) => s + (r.required || 0), 0); const cov = list.reduce((s, r) => s + (r.covered || 0), 0);
      return `<div class="street"><h3>${esc(street)} <small class="muted">${cov}/${req} 已覆盖</small></h3>
        <table class="table"><thead><tr><th>社区</th><th>应探访</th><th>已覆盖</th><th>未覆盖</th><th>联系方式</th><th style="width:28%">覆盖率</th></tr></thead><tbody>
        ${list.map((r) => `<tr data-community="${esc(r.community)}"><td><strong>${esc(r.community_name || r.community)}</strong></td><td>${r.required ?? "—"}</td><td>${r.covered ?? "—"}</td>
          <td class="${r.uncovered ? "text-bad" : ""}">${r.uncovered ?? "—"}</td><td>${esc(contactsText(r.contacts))}</td><td>${bar(pct(r.covered || 0, r.required || 0))}</td></tr>`).join("")}
        </tbody></table></div>`;
    }).join("");
    document.getElementById("by-community").innerHTML = html || `<p class="muted">本周没有需要探访的老人</p>`;
  }

  function renderUncovered(elders) {
    const rows = elders.filter((e) => !e.covered).sort((a, b) => (b.key_object ? 1 : 0) - (a.key_object ? 1 : 0));
    document.getElementById("uncovered-n").textContent = rows.length ? `${rows.length} 人` : "";
    document.getElementById("uncovered").innerHTML = rows.length ? `<div class="uncovered-list">${rows.map((e) => `
      <div class="uncovered ${e.key_object ? "key" : ""}" data-elder="${esc(e.elder_id)}">
        <div class="uncovered-top"><strong><a href="/elders/${encodeURIComponent(e.elder_id)}">${esc(e.elder_name || e.elder_id)}</a></strong>
          ${e.key_object ? `<span class="tag tag-key">重点对象</span>` : ""}</div>
        <div class="muted">${esc([e.street, e.community_name || e.community].filter(Boolean).join(" · "))}</div>
        <div>探访联系人：<strong>${esc(e.visit_contact || "未指定")}</strong></div>
        <div class="muted">本周已联系：${esc(contactsText(e.contacts))}（需 ${e.required ?? "—"} 次）· 上次探访：${e.last_visit_at ? esc(fmtTime(e.last_visit_at)) : "无记录"}</div>
        ${(e.reasons || []).length ? `<div class="reasons">${e.reasons.map(esc).join("；")}</div>` : ""}
        <div><button type="button" class="btn btn-small btn-primary" data-visit="${esc(e.elder_id)}" data-name="${esc(e.elder_name || e.elder_id)}">记录探访</button></div>
      </div>`).join("")}</div>` : `<div class="empty"><div class="empty-icon">✓</div><h2>本周所有老人均已覆盖</h2></div>`;
  }

  async function load() {
    document.getElementById("week-label").textContent = week;
    const monday = weekMonday(week); const sunday = new Date(monday); sunday.setUTCDate(monday.getUTCDate() + 6);
    document.getElementById("week-range").textContent = `${fmtDate(monday)} – ${fmtDate(sunday)}`;
    document.getElementById("export").href = `/api/coverage/export?week=${encodeURIComponent(week)}&format=xlsx`;
    history.replaceState(null, "", `/coverage?week=${encodeURIComponent(week)}`);
    const errorBox = document.getElementById("cov-error");
    try {
      const data = await api("GET", `/api/coverage?week=${encodeURIComponent(week)}`);
      errorBox.hidden = true;
      const elders = data.elders || [];
      const summary = data.summary || { required: elders.length, covered: elders.filter((e) => e.covered).length, uncovered: elders.filter((e) => !e.covered).length };
      document.getElementById("c-required").textContent = summary.required ?? "—";
      document.getElementById("c-covered").textContent = summary.covered ?? "—";
      document.getElementById("c-uncovered").textContent = summary.uncovered ?? "—";
      document.getElementById("c-rate").textContent = pct(summary.covered || 0, (summary.covered || 0) + (summary.uncovered || 0)) + "%";
      renderCommunities(byCommunity(data));
      renderUncovered(elders);
      document.body.dataset.coverage = "ready";
    } catch (e) {
      errorBox.textContent = e.status === 404 ? "探访覆盖统计服务尚未启用。" : "覆盖数据加载失败：" + e.message;
      errorBox.hidden = false;
      document.getElementById("by-community").innerHTML = document.getElementById("uncovered").innerHTML = `<p class="muted">暂无数据</p>`;
    }
  }

  /* recording a visit made outside the system */
  const dialog = document.getElementById("visit-dialog");
  const form = document.getElementById("visit-form");
  const formError = document.getElementById("visit-error");
  function localNow() {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(new Date()).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
  }
  document.getElementById("uncovered").addEventListener("click", (event) => {
    const button = event.target.closest("[data-visit]");
    if (!button) return;
    form.reset(); formError.hidden = true;
    form.elements.elder_id.value = button.dataset.visit;
    form.elements.at.value = localNow();
    document.getElementById("visit-title").textContent = button.dataset.name;
    dialog.showModal();
  });
  document.getElementById("visit-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const submit = document.getElementById("visit-submit"); submit.disabled = true;
    try {
      await api("POST", "/api/visits", { elder_id: data.get("elder_id"), method: data.get("method"),
        at: data.get("at") + ":00+08:00", note: data.get("note") || null });
      dialog.close(); toast("探访记录已保存"); load();
    } catch (e) { formError.textContent = e.message; formError.hidden = false; }
    finally { submit.disabled = false; }
  });
  document.getElementById("week-prev").addEventListener("click", () => { week = shift(week, -1); load(); });
  document.getElementById("week-next").addEventListener("click", () => { week = shift(week, 1); load(); });
  load();
})();
