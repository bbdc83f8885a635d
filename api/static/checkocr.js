// Check OCR panel: the next page of the kb's review queue (image with block boxes beside each block's
// text, editable), accept or save corrections; the drift figures as a chart, with the alert's warning.

import { getJson, imageUrl, postJson, settings } from "./api.js";
import { PageView } from "./pageview.js";
import { el, guard, notice } from "./ui.js";

const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10}%`);

/** Accept rate per day as bars (one per day, engine and mode), newest on the right, over a grey track
 * of 100%; the dashed line is the alert threshold. */
function chart(days, threshold) {
  const rows = days.filter((d) => d.reviewed > 0).slice(0, 30).reverse();
  const w = 24;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = Math.max(1, rows.length) * w;
  svg.setAttribute("viewBox", `0 0 ${width} 100`);
  svg.setAttribute("preserveAspectRatio", "xMinYMid meet");
  svg.setAttribute("class", "drift-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "accept rate per day");
  const shape = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
    svg.append(node);
    return node;
  };
  rows.forEach((d, i) => {
    shape("rect", { x: i * w + 3, y: 0, width: w - 6, height: 100, class: "track" });
    const h = d.accept_rate * 100;
    const bar = shape("rect", { x: i * w + 3, y: 100 - h, width: w - 6, height: h, class: "bar" });
    bar.dataset.day = d.day;
    const title = document.createElementNS(ns, "title");
    title.textContent = `${d.day} ${d.engine}${d.mode ? "/" + d.mode : ""}: ${pct(d.accept_rate)} of ${d.reviewed} accepted`;
    bar.append(title);
  });
  const y = 100 - threshold * 100;
  shape("line", { x1: 0, x2: width, y1: y, y2: y, class: "threshold" });
  return svg;
}

function figuresTable(days) {
  const head = ["day", "engine", "mode", "pages", "failed", "retried", "fallback", "tokens/page",
    "reviewed", "accepted", "edit distance"];
  return el("table", { class: "doc-table", id: "drift-table" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
    el("tbody", {}, days.map((d) => el("tr", { dataset: { day: d.day, engine: d.engine } },
      el("td", {}, d.day), el("td", {}, d.engine), el("td", {}, d.mode || ""), el("td", {}, String(d.pages)),
      el("td", {}, String(d.failed)), el("td", {}, pct(d.retry_rate)), el("td", {}, pct(d.fallback_rate)),
      el("td", {}, d.output_tokens_per_page ?? "—"), el("td", { class: "reviewed" }, String(d.reviewed)),
      el("td", { class: "accept-rate" }, pct(d.accept_rate)),
      el("td", { class: "edit-distance" }, d.edit_distance_mean ?? "—")))));
}

export function mountCheckOcr(root) {
  const warning = el("div", { class: "banner error", id: "drift-warning", role: "alert", hidden: true });
  const summary = el("p", { class: "hint", id: "checkocr-summary" });
  const figures = el("div", { id: "drift-figures" });
  const page = el("div", { id: "checkocr-page" });
  const blocks = el("div", { class: "checkocr-blocks", id: "checkocr-blocks" });
  const title = el("p", { class: "hint", id: "checkocr-title" });
  const accept = el("button", { type: "button", class: "primary", id: "checkocr-accept" }, "Accept page");
  const save = el("button", { type: "button", id: "checkocr-save" }, "Save corrections");
  const view = new PageView(page);
  let item = null;
  root.append(el("h2", {}, "Check OCR"), warning, summary,
    el("p", { class: "hint" }, "Sampled pages and every page the quality gate retried or sent to the fallback engine. Accept a page, or correct its blocks: the page is indexed again with your text."),
    title, el("div", { class: "row" }, accept, save),
    el("div", { class: "ask-layout" }, page, blocks), el("h3", {}, "Drift"), figures);

  async function loadFigures() {
    const q = await getJson(`/v1/kbs/${encodeURIComponent(settings.kb)}/quality`);
    const w = q.window;
    summary.textContent = `${q.pending} page(s) waiting · accept rate ${pct(w.accept_rate)} over the last ${w.reviews} review(s) (alert below ${pct(w.threshold)})`;
    warning.hidden = !w.alert;
    warning.textContent = w.alert ? `OCR drift: only ${pct(w.accept_rate)} of the last ${w.reviews} reviewed pages were accepted unchanged (threshold ${pct(w.threshold)}).` : "";
    figures.replaceChildren(chart(q.days, w.threshold), figuresTable(q.days));
  }

  async function loadNext() {
    const reply = await getJson(`/v1/kbs/${encodeURIComponent(settings.kb)}/review/next`);
    item = reply.item;
    accept.disabled = save.disabled = !item;
    if (!item) {
      title.textContent = "No page waits for review in this knowledge base.";
      view.clear();
      blocks.replaceChildren();
      return;
    }
    title.textContent = `${item.filename} · page ${item.page} · ${item.reason} · ${item.engine}${item.mode ? "/" + item.mode : ""}`;
    await view.setImage(await imageUrl(`/v1/documents/${item.doc_id}/pages/${item.page}/image`), `${item.filename}, page ${item.page}`);
    view.setBlocks(item.blocks);
    blocks.replaceChildren(...item.blocks.map((b) => el("label", { class: "checkocr-block", dataset: { index: String(b.index) } },
      el("span", { class: "hint" }, `${b.index} · ${b.kind}`),
      el("textarea", { rows: String(Math.min(8, 1 + Math.ceil(b.markdown.length / 70))), dataset: { original: b.markdown } }, b.markdown))));
  }

  async function refresh() {
    await loadNext();
    await loadFigures();
  }

  async function verdict(action, body) {
    const path = `/v1/kbs/${encodeURIComponent(settings.kb)}/review/${item.doc_id}/${item.page}/${action}`;
    accept.disabled = save.disabled = true;
    const reply = await postJson(path, body);
    notice(`${reply.state}: page ${reply.page}${reply.edit_distance ? `, ${reply.edit_distance} characters changed` : ""}`);
    await refresh();
  }

  accept.addEventListener("click", () => guard(() => verdict("accept", {})));
  save.addEventListener("click", () => guard(() => {
    const fixes = [...blocks.querySelectorAll("textarea")]
      .map((t) => ({ block: Number(t.closest("label").dataset.index), markdown: t.value, original: t.dataset.original }))
      .filter((f) => f.markdown !== f.original)
      .map(({ block, markdown }) => ({ block, markdown }));
    if (!fixes.length) throw new Error("no block was changed: edit a block's text, or accept the page");
    return verdict("correct", { blocks: fixes });
  }));

  return { refresh: () => guard(refresh) };
}
