/* The live alarm board: a server-sent event stream keeps the cards current without reloading. */
"use strict";
(() => {
  const L = window.LABELS;
  const alarms = new Map();
  const flashUntil = new Map();
  let resolvedToday = 0;
  let firstSnapshot = true;
  const list = document.getElementById("alarms");
  const empty = document.getElementById("empty");
  const live = document.getElementById("live");
  const liveText = document.getElementById("live-text");
  const rank = { critical: 0, warning: 1, info: 2 };

  /* sound: a WebAudio two-tone beep, muted state remembered in this browser */
  const muteButton = document.getElementById("mute");
  const hint = document.getElementById("sound-hint");
  let muted = localStorage.getItem("tanfang.muted") === "1";
  let audio = null;
  function showMute() {
    muteButton.innerHTML = muted ? `${icon("bellOff")} 提示音：关` : `${icon("bell")} 提示音：开`;
    muteButton.setAttribute("aria-pressed", String(muted));
  }
  function audioContext() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    return audio;
  }
  function ring() {
    if (muted) return;
    const ctx = audioContext();
    if (!ctx) return;
    if (ctx.state === "suspended") { hint.hidden = false; ctx.resume().catch(() => {}); }
    const start = ctx.currentTime;
    for (let i = 0; i < 6; i++) {
      const osc = ctx.createOscillator(); const gain = ctx.createGain();
      osc.type = "square"; osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, start + i * 0.3);
      gain.gain.exponentialRampToValueAtTime(0.25, start + i * 0.3 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.3 + 0.25);
      osc.connect(gain).connect(ctx.destination); osc.start(start + i * 0.3); osc.stop(start + i * 0.3 + 0.28);
    }
  }
  muteButton.addEventListener("click", () => {
    muted = !muted; localStorage.setItem("tanfang.muted", muted ? "1" : "0"); showMute();
    if (!muted) audioContext()?.resume();
  });
  document.getElementById("sound-enable").addEventListener("click", () => { audioContext()?.resume(); hint.hidden = true; });
  document.addEventListener("pointerdown", () => { if (audio && audio.state === "suspended") audio.resume(); hint.hidden = true; }, { once: true });
  showMute();

  function urgency(a, b) {
    return (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3)
      || (a.state === "open" ? 0 : 1) - (b.state === "open" ? 0 : 1)
      || a.opened_at.localeCompare(b.opened_at);
  }
  function notificationsHtml(items) {
    if (!items || !items.length) return "";
    const chips = items.map((n) => {
      const when = n.delivered_at || n.sent_at;
      return `<span class="notif notif-${esc(n.state)}" title="${esc(n.error || "")}">` +
        `<b>${esc(L.channel[n.channel] || n.channel)}</b>→ ${esc(n.recipient_name || L.recipient[n.recipient_kind] || "")}` +
        `<span>${esc(L.recipient[n.recipient_kind] || "")}</span> · ${esc(L.notification_state[n.state] || n.state)}${when ? " " + esc(fmtTime(when).slice(-5)) : ""}</span>`;
    }).join("");
    return `<div class="escalation"><span class="escalation-label">已通知：</span>${chips}</div>`;
  }
  function cardHtml(a) {
    const open = a.state === "open";
    const elder = a.elder_id ? `<a href="/elders/${encodeURIComponent(a.elder_id)}">${esc(a.elder_name)}</a>` : `<strong>${esc(a.elder_name)}</strong>`;
    const place = [a.street, a.community_name].filter(Boolean).join(" · ");
    const again = a.occurrences > 1 ? `<span class="tag tag-warn">重复 ${a.occurrences} 次</span>` : "";
    const ack = a.state === "acknowledged"
      ? `<div class="alarm-ack">✔ ${esc(a.acknowledged_by)} 已于 ${esc(fmtTime(a.acknowledged_at))} 接警，正在处理</div>` : "";
    return `
      <div class="alarm-top"><span class="sev">${esc(L.severity[a.severity] || a.severity)}</span>
        <span class="alarm-kind">${esc(a.kind_label)}</span>
        <span class="state state-${esc(a.state)}">${esc(L.state[a.state] || a.state)}</span>${again}</div>
      <div class="alarm-age"><strong data-ago="${esc(a.opened_at)}">${esc(ago(a.opened_at))}</strong><span>${esc(fmtTime(a.opened_at))}</span></div>
      <div class="alarm-summary">${esc(a.summary)}</div>
      <div class="alarm-who">${elder}<span>${esc(place)}</span><span class="muted mono">${esc(a.device_id || "")}</span></div>
      ${notificationsHtml(a.notifications)}
      ${ack}
      <div class="alarm-actions">
        ${open ? `<button type="button" class="btn btn-ack" data-act="ack">确认接警</button>` : ""}
        ${a.elder_id ? `<button type="button" class="btn" data-reveal="${esc(a.elder_id)}" data-alarm="${a.id}" data-target="#phones-${a.id}">${icon("phone")} 显示回拨电话</button>` : ""}
        <button type="button" class="btn btn-resolve" data-act="resolve">处理完毕</button>
      </div>
      <div class="phones" id="phones-${a.id}" hidden></div>`;
  }
  function render(changedIds, fresh) {
    const rows = [...alarms.values()].sort(urgency);
    for (const id of fresh) flashUntil.set(id, Date.now() + 8000);
    rows.forEach((a, index) => {
      let card = document.getElementById("alarm-" + a.id);
      if (!card || changedIds.has(a.id)) {
        const phones = card && card.querySelector(".phones:not([hidden])");
        const next = document.createElement("article");
        next.id = "alarm-" + a.id;
        next.innerHTML = cardHtml(a);
        if (phones) { next.querySelector(".phones").replaceWith(phones); next.querySelector("[data-reveal]")?.remove(); }
        if (card) card.replaceWith(next); else list.appendChild(next);
        card = next;
      }
      const flashing = (flashUntil.get(a.id) || 0) > Date.now() && a.state === "open";
      card.className = `alarm sev-${a.severity} state-${a.state}` + (flashing ? " flash" : "");
      Object.assign(card.dataset, { alarm: a.id, kind: a.kind, elder: a.elder_id || "", state: a.state, severity: a.severity });
      /* DOM order follows urgency; a card is moved only when out of place (moving restarts its flash) */
      if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
    });
    for (const card of [...list.children]) if (!alarms.has(Number(card.dataset.alarm))) card.remove();
    const open = rows.filter((a) => a.state === "open");
    document.getElementById("n-critical").textContent = open.filter((a) => a.severity === "critical").length;
    document.getElementById("n-open").textContent = open.length;
    document.getElementById("n-ack").textContent = rows.length - open.length;
    document.getElementById("n-done").textContent = resolvedToday;
    empty.hidden = rows.length > 0;
    const nav = document.getElementById("nav-open");
    if (nav) { nav.hidden = open.length === 0; nav.textContent = open.length; }
    document.title = (open.length ? `(${open.length}) ` : "") + "告警看板 · 探访关爱远程监测";
  }
  function apply(rows, isSnapshot) {
    const changed = new Set(); const fresh = new Set(); let alarmSound = false;
    if (isSnapshot) alarms.clear();
    for (const a of rows) {
      const known = alarms.get(a.id);
      if (a.state === "resolved") {
        if (known) { alarms.delete(a.id); resolvedToday += 1; }
        continue;
      }
      if (!known && !firstSnapshot && a.state === "open") {
        fresh.add(a.id);
        if (a.severity === "critical") alarmSound = true;
      }
      alarms.set(a.id, a); changed.add(a.id);
    }
    firstSnapshot = false;
    render(changed, fresh);
    if (alarmSound) ring();
  }

  function connect() {
    const source = new EventSource("/api/board/stream");
    source.addEventListener("snapshot", (e) => {
      const data = JSON.parse(e.data); resolvedToday = data.resolved_today;
      live.dataset.state = "live"; liveText.textContent = "实时监测中";
      apply(data.alarms, true);
    });
    source.addEventListener("alarms", (e) => apply(JSON.parse(e.data).alarms, false));
    source.addEventListener("expired", () => { source.close(); location.href = "/login?next=/"; });
    source.onerror = () => {
      live.dataset.state = "down"; liveText.textContent = "连接中断，正在重连…";
      if (source.readyState === EventSource.CLOSED) {
        /* a closed stream usually means the session ended: ask the API, which redirects on 401 */
        api("GET", "/api/board").then(() => setTimeout(connect, 2000)).catch(() => setTimeout(connect, 5000));
      }
    };
  }

  /* acknowledge and resolve */
  const dialog = document.getElementById("resolve-dialog");
  const form = document.getElementById("resolve-form");
  const formError = document.getElementById("resolve-error");
  let resolving = null;
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-act]");
    if (!button) return;
    const id = Number(button.closest(".alarm").dataset.alarm);
    const a = alarms.get(id);
    if (button.dataset.act === "ack") {
      button.disabled = true;
      try { const d = await api("POST", `/api/alarms/${id}/ack`, {}); mergeDetail(d); toast("已接警：" + a.kind_label + " · " + a.elder_name); }
      catch (e) { toast(e.message); button.disabled = false; }
    } else {
      resolving = id; form.reset(); formError.hidden = true;
      document.getElementById("resolve-title").textContent = `${a.kind_label} · ${a.elder_name}`;
      dialog.showModal();
    }
  });
  function mergeDetail(detail) {
    const known = alarms.get(detail.id);
    if (!known) return;
    apply([{ ...known, state: detail.state, acknowledged_by: detail.acknowledged_by, acknowledged_at: detail.acknowledged_at,
      updated_at: new Date().toISOString() }], false);
  }
  document.getElementById("resolve-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const submit = document.getElementById("resolve-submit");
    submit.disabled = true;
    try {
      await api("POST", `/api/alarms/${resolving}/resolve`, {
        outcome: data.get("outcome"), contact_method: data.get("contact_method"), note: data.get("note") || null });
      const a = alarms.get(resolving);
      apply([{ ...a, state: "resolved" }], false);
      dialog.close(); toast("已处理完毕，记录已保存");
    } catch (e) { formError.textContent = e.message; formError.hidden = false; }
    finally { submit.disabled = false; }
  });

  setInterval(() => document.querySelectorAll("[data-ago]").forEach((el) => { el.textContent = ago(el.dataset.ago); }), 15000);
  connect();
})();
