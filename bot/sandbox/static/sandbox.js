// Heshun leopard watch sandbox: plays a resident and a staff member against the real bot.
// Plain JavaScript, no framework, nothing from the internet. The page polls /api/state every
// ~700 ms and redraws only the messages that changed; every action is one POST to /api/...
"use strict";

const POLL_MS = 700;

// ---- page labels (the bot's own texts come from its catalogs; these are only the page's) --------
const LABELS = {
  zh: {
    title: "和顺豹子守护 · 沙盒",
    subtitle: "本机演示：假的 Telegram，真的机器人、真的数据库。",
    residentLanguage: "居民的 Telegram 语言",
    newResident: "换一位新居民",
    tipline: "网页举报（不用 Telegram）",
    uiLanguage: "页面语言",
    resident: "居民（你）与机器人的私聊",
    staffGroup: "林业局审核群",
    channels: "频道",
    channelsNote: "工作人员核实后，事件按类型发到这些频道。",
    trusted: "可信：精确位置、原图、报告人",
    public: "公开：模糊位置、去掉身份",
    kinds: { sighting: "目击", livestock: "家畜", signs: "痕迹", tip: "举报" },
    send: "发送",
    menu: "菜单",
    attach: "发送照片",
    photoButton: "照片",
    map: "地图 / 位置",
    mapButton: "地图",
    asFile: "作为文件发送（保留照片里的位置和时间）",
    langNote: "机器人会记住一个人最初的语言；对话开始后请发 /language 或换一位新居民。",
    mapTitle: "和顺县服务区（近似范围）",
    mapHint: "点地图选地点，再点下面的“📍”位置按钮或“发送此位置”；没选时按钮发送县城。也可以直接把坐标打字发给机器人。",
    sendLocation: "发送此位置",
    lat: "纬度",
    lon: "经度",
    typeMessage: "输入消息，或打字写坐标、地名…",
    staffType: "以工作人员身份发言（如 /pending），或先点某条消息的“回复”…",
    replyingTo: "回复：",
    reply: "回复",
    cancel: "取消",
    noMessages: "还没有消息。",
    startHint: "点 ☰ 菜单，选 /start 开始报告。",
    channelEmpty: "还没有帖子：核实的事件会发到这里。",
    residentWho: (name, id, code) => `${name} · 用户 ${id} · Telegram 语言 ${code}`,
    staffWho: (name, id, lang) => `你是工作人员 ${name}（用户 ${id}，群管理员）· 卡片语言 ${lang}`,
    database: "数据库：",
    edited: "已编辑",
    offline: "与沙盒的连接中断，正在重试…",
    commandsTitle: "机器人的命令",
    location: "位置",
    phone: "电话",
    noPhoto: "（不是照片）",
    countySeat: "县城",
    km: "公里",
  },
  en: {
    title: "Heshun Leopard Watch · sandbox",
    subtitle: "A local demo: a fake Telegram, the real bot and a real database.",
    residentLanguage: "Resident's Telegram language",
    newResident: "New resident",
    tipline: "Web tip line (no Telegram)",
    uiLanguage: "Page language",
    resident: "Resident (you) — private chat with the bot",
    staffGroup: "Forestry bureau moderation group",
    channels: "Channels",
    channelsNote: "Once staff verify an incident it is posted here, by kind.",
    trusted: "trusted: exact place, original photos, reporter",
    public: "public: blurred place, no identity",
    kinds: { sighting: "sighting", livestock: "livestock", signs: "signs", tip: "tip" },
    send: "Send",
    menu: "Menu",
    attach: "Send photos",
    photoButton: "Photo",
    map: "Map / location",
    mapButton: "Map",
    asFile: "Send as file (keeps the photo's place and time)",
    langNote: "The bot remembers a person's first language; later, send /language or use a new resident.",
    mapTitle: "Heshun county service area (approximate)",
    mapHint: "Click the map to choose a place, then tap the 📍 location button below or Send this location; without a click the button sends the county seat. You can also type coordinates to the bot.",
    sendLocation: "Send this location",
    lat: "Lat",
    lon: "Lon",
    typeMessage: "Message, or type coordinates or a place name…",
    staffType: "Write as staff (e.g. /pending), or press Reply on a message first…",
    replyingTo: "Replying to:",
    reply: "Reply",
    cancel: "Cancel",
    noMessages: "No messages yet.",
    startHint: "Tap ☰ Menu and choose /start to make a report.",
    channelEmpty: "No posts yet: verified incidents appear here.",
    residentWho: (name, id, code) => `${name} · user ${id} · Telegram language ${code}`,
    staffWho: (name, id, lang) => `You are staff member ${name} (user ${id}, group admin) · cards in ${lang}`,
    database: "Database:",
    edited: "edited",
    offline: "Lost the connection to the sandbox; retrying…",
    commandsTitle: "The bot's commands",
    location: "Location",
    phone: "Phone",
    noPhoto: "(not a photo)",
    countySeat: "county seat",
    km: "km",
  },
};

let ui = localStorage.getItem("sandbox-ui");
if (ui !== "zh" && ui !== "en") ui = (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
const L = (key) => LABELS[ui][key];

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "html") node.innerHTML = v; // only ever HTML built by the server's escaper
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
};

let state = null;
let mapData = null;
let chosen = null; // {lat, lon} picked on the map
const replyTo = { resident: null, staff: null };
let keyboardShown = "";

// ---- talking to the server ------------------------------------------------------------------

async function post(path, body, isForm = false) {
  const options = { method: "POST", headers: { "X-Sandbox": "1" } };
  if (isForm) options.body = body;
  else {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let answer;
  try {
    const response = await fetch(path, options);
    const type = response.headers.get("Content-Type") || "";
    answer = type.includes("json") ? await response.json() : { ok: response.ok, error: await response.text() };
  } catch (error) {
    answer = { ok: false, error: String(error) };
  }
  if (!answer.ok) toast(answer.error || "error", true);
  poll(true);
  return answer;
}

let timer = null;
let polling = false;
async function poll(soon = false) {
  if (soon) {
    clearTimeout(timer);
    timer = setTimeout(poll, 150);
    return;
  }
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    if (!response.ok) throw new Error(String(response.status));
    state = await response.json();
    $("offline").hidden = true;
    render();
  } catch (error) {
    $("offline").hidden = false;
  } finally {
    polling = false;
    timer = setTimeout(poll, POLL_MS);
  }
}

// ---- messages -------------------------------------------------------------------------------

function time(unix) {
  const d = new Date(unix * 1000);
  return d.toLocaleTimeString(ui === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

function messageNode(pane, chatName, m, actor) {
  const mine = actor !== null && m.from_id === actor;
  const node = el("div", { class: `msg ${mine ? "out" : "in"}${m.by_bot ? " bot" : ""}`, "data-id": m.id });
  if (pane === "staff" && !mine) node.append(el("div", { class: "sender" }, m.from));
  if (m.reply_to) node.append(el("div", { class: "quote" }, "↩ " + m.reply_to.snippet));
  if (m.photo) {
    node.append(
      el("a", { href: `/api/file/${m.photo.full}`, target: "_blank", class: "photo" },
        el("img", { src: `/api/file/${m.photo.file_id}`, alt: "photo", onload: imageLoaded }))
    );
  }
  if (m.document) {
    const d = m.document;
    if (d.mime.startsWith("image/")) {
      node.append(el("a", { href: `/api/file/${d.file_id}`, target: "_blank", class: "photo" },
        el("img", { src: `/api/file/${d.file_id}`, alt: d.name, onload: imageLoaded })));
    }
    const size = d.size ? ` · ${(d.size / 1024).toFixed(0)} KB` : "";
    node.append(el("div", { class: "doc" }, "📄 ",
      el("a", { href: `/api/file/${d.file_id}`, download: d.name }, d.name), size));
  }
  if (m.location) {
    const where = `${m.location.lat.toFixed(5)}, ${m.location.lon.toFixed(5)}`;
    node.append(el("button", { type: "button", class: "loc", onclick: () => choose(m.location.lat, m.location.lon, true) },
      `📍 ${L("location")}: ${where}${m.location.live ? " (live)" : ""}`));
  }
  if (m.venue) node.append(el("div", { class: "venue" }, `${m.venue.title} — ${m.venue.address}`));
  if (m.contact) node.append(el("div", { class: "contact" }, `📞 ${L("phone")}: ${m.contact.phone} (${m.contact.name})`));
  if (m.other) node.append(el("div", { class: "doc" }, `[${m.other}]`));
  if (m.html !== undefined) node.append(el("div", { class: "text", html: m.html }));
  const meta = el("div", { class: "meta" }, time(m.date), m.edited ? ` · ${L("edited")}` : "");
  if (pane !== "channel") {
    meta.append(" · ", el("button", { type: "button", class: "reply-btn", onclick: () => setReply(pane, m) }, L("reply")));
  }
  node.append(meta);
  if (m.buttons) {
    const kb = el("div", { class: "inline-kb" });
    for (const row of m.buttons) {
      const r = el("div", { class: "kb-row" });
      for (const b of row) {
        if (b.url) {
          r.append(el("a", { class: "kb-btn", href: b.url, target: "_blank", rel: "noopener noreferrer" }, b.text + " ↗"));
        } else {
          r.append(el("button", {
            type: "button", class: "kb-btn", "data-data": b.data,
            disabled: pane === "channel",
            onclick: (event) => press(pane, chatName, m.id, b.data, event.currentTarget),
          }, b.text));
        }
      }
      kb.append(r);
    }
    node.append(kb);
  }
  return node;
}

function imageLoaded(event) {
  // A picture that arrives after its message grows the chat: keep the newest message in view.
  const img = event.target;
  const box = img.closest(".messages");
  if (box && box.scrollHeight - box.scrollTop - box.clientHeight < img.clientHeight + 120) {
    box.scrollTop = box.scrollHeight;
  }
}

const drawn = new Map(); // container id -> Map(message id -> [json, node])

function drawMessages(container, pane, chatName, messages, actor, emptyText) {
  const before = drawn.get(container.id) || new Map();
  const after = new Map();
  const nearBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 80;
  let added = false;
  const nodes = [];
  for (const m of messages) {
    const json = JSON.stringify(m) + ui;
    const old = before.get(m.id);
    let node;
    if (old && old[0] === json) node = old[1];
    else {
      node = messageNode(pane, chatName, m, actor);
      if (!old) added = true;
    }
    after.set(m.id, [json, node]);
    nodes.push(node);
  }
  if (!messages.length) nodes.push(el("p", { class: "empty" }, emptyText));
  const same = nodes.length === container.children.length && nodes.every((n, i) => container.children[i] === n);
  if (!same) container.replaceChildren(...nodes);
  drawn.set(container.id, after);
  // Stay at the newest message (as chat apps do) unless the person scrolled up to read.
  if (!same && (nearBottom || (added && pane !== "channel"))) container.scrollTop = container.scrollHeight;
}

function render() {
  if (!state) return;
  const r = state.resident;
  document.querySelectorAll("#resident-lang button").forEach((b) => b.classList.toggle("on", b.dataset.lang === r.language));
  $("resident-who").textContent = LABELS[ui].residentWho(r.name, r.user_id, r.language_code);
  drawMessages($("resident-messages"), "resident", "resident", r.messages, r.user_id, L("startHint"));
  const s = state.staff;
  $("staff-who").textContent = LABELS[ui].staffWho(s.name, s.user_id, s.staff_language);
  drawMessages($("staff-messages"), "staff", "staff", s.messages, s.user_id, L("noMessages"));
  drawChannels(state.channels);
  drawKeyboard(r.reply_keyboard);
  drawCommands(r.commands);
  $("database").textContent = state.database;
  const tipline = $("tipline");
  if (state.tipline_port) {
    // The same address the page was opened with (a LAN address in a training room), its own port.
    tipline.href = `${location.protocol}//${location.hostname}:${state.tipline_port}/`;
    tipline.hidden = false;
  }
}

function drawChannels(channels) {
  const list = $("channel-list");
  for (const c of channels) {
    let box = document.getElementById(`channel-${c.id}`);
    if (!box) {
      box = el("section", { class: "channel", id: `channel-${c.id}` },
        el("h3", {}), el("p", { class: "who" }), el("div", { class: "messages", id: `channel-messages-${c.id}` }));
      list.append(box);
    }
    const kinds = c.kinds.map((k) => LABELS[ui].kinds[k] || k).join(ui === "zh" ? "、" : ", ");
    box.querySelector("h3").textContent = `${c.trusted ? "🔒" : "📢"} ${c.title}`;
    box.querySelector(".who").textContent = `${c.trusted ? L("trusted") : L("public")} · ${kinds}`;
    drawMessages(box.querySelector(".messages"), "channel", String(c.id), c.messages, null, L("channelEmpty"));
  }
}

function drawKeyboard(rows) {
  const box = $("reply-keyboard");
  const key = JSON.stringify(rows) + ui;
  if (key === keyboardShown) return;
  const appeared = rows && rows.some((row) => row.some((b) => b.kind === "location")) &&
    !(keyboardShown && keyboardShown.includes('"location"'));
  keyboardShown = key;
  box.replaceChildren();
  box.hidden = !rows;
  if (!rows) return;
  for (const row of rows) {
    const r = el("div", { class: "kb-row" });
    for (const b of row) {
      r.append(el("button", { type: "button", class: `kb-btn reply-kb ${b.kind}`, onclick: () => replyButton(b) }, b.text));
    }
    box.append(r);
  }
  if (appeared) showMap(true);
}

function drawCommands(commands) {
  const box = $("commands");
  const key = JSON.stringify(commands) + ui;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(el("h3", {}, L("commandsTitle")));
  for (const c of commands) {
    box.append(el("button", {
      type: "button", class: "command", "data-command": c.command,
      onclick: () => { box.hidden = true; sendText("resident", "/" + c.command); },
    }, el("b", {}, "/" + c.command), " ", el("span", {}, c.description)));
  }
}

// ---- actions --------------------------------------------------------------------------------

async function sendText(pane, text) {
  text = text.trim();
  if (!text) return;
  const body = { chat: pane, text };
  if (replyTo[pane]) body.reply_to = replyTo[pane].id;
  setReply(pane, null);
  await post("/api/text", body);
}

async function press(pane, chatName, messageId, data, button) {
  button.classList.add("busy");
  const answer = await post("/api/press", { chat: pane, message_id: messageId, data });
  button.classList.remove("busy");
  if (answer.ok && answer.answer && answer.answer.text) {
    if (answer.answer.show_alert) showAlert(answer.answer.text);
    else toast(answer.answer.text);
  }
}

async function replyButton(button) {
  const body = { text: button.text };
  if (button.kind === "location" && chosen) Object.assign(body, chosen);
  await post("/api/reply_button", body);
}

async function sendPhotos(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append("photo", f, f.name);
  const caption = $("resident-text").value.trim();
  if (caption) form.append("caption", caption);
  if ($("as-file").checked) form.append("as_file", "1");
  $("resident-text").value = "";
  await post("/api/photo", form, true);
  $("photo-input").value = "";
}

function setReply(pane, message) {
  replyTo[pane] = message;
  const box = $(`${pane}-replying`);
  box.hidden = !message;
  box.replaceChildren();
  if (message) {
    const snippet = (message.html ? htmlText(message.html) : "").slice(0, 60) || (message.photo ? "🖼" : "…");
    box.append(L("replyingTo") + " " + snippet + " ",
      el("button", { type: "button", class: "link", onclick: () => setReply(pane, null) }, L("cancel")));
    $(`${pane}-text`).focus();
  }
}

function htmlText(html) {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div.textContent || "";
}

let toastTimer = null;
function toast(text, bad = false) {
  const box = $("toast");
  box.textContent = text;
  box.classList.toggle("bad", bad);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, bad ? 6000 : 3000);
}

function showAlert(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
  $("alert-ok").focus();
}

// ---- the map (an inline SVG: no tiles, no internet) ------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const PAD = 0.03;
const SCALE = 1000; // SVG units per degree of latitude
let proj = null;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawMap() {
  if (!mapData) return;
  const b = mapData.bbox;
  const kx = Math.cos(((b.north + b.south) / 2) * Math.PI / 180);
  const west = b.west - PAD, north = b.north + PAD;
  const width = (b.east - b.west + 2 * PAD) * kx * SCALE;
  const height = (b.north - b.south + 2 * PAD) * SCALE;
  proj = {
    xy: (lat, lon) => [(lon - west) * kx * SCALE, (north - lat) * SCALE],
    latlon: (x, y) => [north - y / SCALE, x / (kx * SCALE) + west],
  };
  const map = $("map");
  map.setAttribute("viewBox", `0 0 ${width.toFixed(1)} ${height.toFixed(1)}`);
  map.replaceChildren();
  map.append(svg("title", { id: "map-title" }, L("mapTitle")));
  map.append(svg("rect", { x: 0, y: 0, width, height, class: "land" }));
  // graticule every 0.1°
  const grid = svg("g", { class: "grid" });
  for (let lat = Math.ceil((b.south - PAD) * 10) / 10; lat <= north; lat += 0.1) {
    const [, y] = proj.xy(lat, 0);
    grid.append(svg("line", { x1: 0, x2: width, y1: y, y2: y }));
    grid.append(svg("text", { x: 6, y: y - 6 }, `${lat.toFixed(1)}°N`));
  }
  for (let lon = Math.ceil(west * 10) / 10; lon <= b.east + PAD; lon += 0.1) {
    const [x] = proj.xy(0, lon);
    grid.append(svg("line", { x1: x, x2: x, y1: 0, y2: height }));
    if (Math.round(lon * 10) % 2 === 0) grid.append(svg("text", { x: x + 5, y: height - 8 }, `${lon.toFixed(1)}°E`));
  }
  map.append(grid);
  let d = "";
  for (const polygon of mapData.polygons) {
    for (const ring of polygon) {
      d += ring.map(([lon, lat], i) => {
        const [x, y] = proj.xy(lat, lon);
        return `${i ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
      }).join("") + "Z";
    }
  }
  map.append(svg("path", { d, class: "area", "fill-rule": "evenodd" }));
  const top = proj.xy(b.north, b.west)[1];
  map.append(svg("text", { x: width / 2, y: top + 44, class: "area-label", "text-anchor": "middle" }, L("mapTitle")));
  for (const p of mapData.places) {
    const [x, y] = proj.xy(p.lat, p.lon);
    const name = ui === "zh" ? p.name_zh : p.name_en;
    const g = svg("g", { class: `place ${p.kind}` });
    g.append(svg("circle", { cx: x, cy: y, r: p.kind === "county_seat" ? 12 : 8 }));
    g.append(svg("text", { x: x + 16, y: y + 11 }, p.kind === "county_seat" ? `${name} (${L("countySeat")})` : name));
    map.append(g);
  }
  // scale bar: 10 km
  const kmDeg = 10 / (111.32 * kx);
  const [x0, y0] = [width - 40 - kmDeg * kx * SCALE, height - 40];
  const x1 = x0 + kmDeg * kx * SCALE;
  const bar = svg("g", { class: "scale" });
  bar.append(svg("line", { x1: x0, x2: x1, y1: y0, y2: y0 }));
  bar.append(svg("text", { x: (x0 + x1) / 2, y: y0 - 6, "text-anchor": "middle" }, `10 ${L("km")}`));
  map.append(bar);
  const marker = svg("g", { id: "marker", visibility: "hidden" });
  marker.append(svg("circle", { r: 20, class: "ring" }), svg("circle", { r: 7, class: "dot" }));
  map.append(marker);
  if (chosen) choose(chosen.lat, chosen.lon);
}

function choose(lat, lon, reveal = false) {
  chosen = { lat: Math.round(lat * 1e5) / 1e5, lon: Math.round(lon * 1e5) / 1e5 };
  $("lat").value = chosen.lat.toFixed(5);
  $("lon").value = chosen.lon.toFixed(5);
  if (reveal) showMap(true);
  const marker = $("marker");
  if (!marker || !proj) return;
  const [x, y] = proj.xy(chosen.lat, chosen.lon);
  marker.setAttribute("transform", `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
  marker.setAttribute("visibility", "visible");
}

function showMap(show) {
  const messages = $("resident-messages");
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
  $("mapbox").hidden = !show;
  $("map-button").classList.toggle("on", show);
  if (atBottom) messages.scrollTop = messages.scrollHeight; // the chat got shorter: keep the newest in view
}

function typedPoint() {
  const lat = parseFloat($("lat").value.replace(",", "."));
  const lon = parseFloat($("lon").value.replace(",", "."));
  if (Number.isFinite(lat) && Number.isFinite(lon)) choose(lat, lon);
}

// ---- wiring ---------------------------------------------------------------------------------

function applyLabels() {
  document.documentElement.lang = ui === "zh" ? "zh-Hans" : "en";
  document.querySelectorAll("[data-t]").forEach((n) => { n.textContent = L(n.dataset.t); });
  document.querySelectorAll("[data-t-placeholder]").forEach((n) => { n.placeholder = L(n.dataset.tPlaceholder); });
  $("resident-lang").title = L("langNote");
  document.querySelectorAll("[data-t-title]").forEach((n) => {
    n.title = L(n.dataset.tTitle);
    n.setAttribute("aria-label", L(n.dataset.tTitle));
  });
  document.querySelectorAll("#ui-lang button").forEach((b) => b.classList.toggle("on", b.dataset.ui === ui));
  // the menu button keeps its icon
  $("menu-button").replaceChildren("☰ ", el("span", {}, L("menu")));
  keyboardShown = "";
  $("commands").dataset.key = "";
  drawn.clear();
  drawMap();
  render();
}

$("resident-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("resident-text");
  sendText("resident", input.value);
  input.value = "";
});
$("staff-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("staff-text");
  sendText("staff", input.value);
  input.value = "";
});
$("photo-input").addEventListener("change", (e) => sendPhotos([...e.target.files]));
$("menu-button").addEventListener("click", () => { $("commands").hidden = !$("commands").hidden; });
$("map-button").addEventListener("click", () => showMap($("mapbox").hidden));
$("map").addEventListener("click", (e) => {
  if (!proj) return;
  const map = $("map");
  const point = map.createSVGPoint();
  point.x = e.clientX;
  point.y = e.clientY;
  const p = point.matrixTransform(map.getScreenCTM().inverse());
  const [lat, lon] = proj.latlon(p.x, p.y);
  choose(lat, lon);
});
$("lat").addEventListener("change", typedPoint);
$("lon").addEventListener("change", typedPoint);
$("send-location").addEventListener("click", () => {
  typedPoint();
  if (!chosen) { toast(L("mapHint"), true); return; }
  post("/api/location", chosen);
});
document.querySelectorAll("#resident-lang button").forEach((b) =>
  b.addEventListener("click", async () => {
    const answer = await post("/api/language", { language: b.dataset.lang });
    // The bot keeps the language it chose when this person first wrote (as on Telegram).
    if (answer.ok && state && state.resident.messages.length) toast(L("langNote"));
  }));
$("new-resident").addEventListener("click", () => {
  drawn.delete("resident-messages");
  post("/api/new_resident", {});
});
document.querySelectorAll("#ui-lang button").forEach((b) =>
  b.addEventListener("click", () => {
    ui = b.dataset.ui;
    localStorage.setItem("sandbox-ui", ui);
    applyLabels();
  }));
$("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });
document.addEventListener("click", (e) => {
  const cmd = e.target.closest && e.target.closest("a.cmd");
  if (!cmd) return;
  e.preventDefault();
  if (cmd.closest("#resident-messages")) sendText("resident", cmd.dataset.cmd);
  else if (cmd.closest("#staff-messages")) sendText("staff", cmd.dataset.cmd);
});

(async function start() {
  try {
    mapData = await (await fetch("/api/map")).json();
  } catch (error) {
    mapData = null;
  }
  applyLabels();
  poll();
})();
