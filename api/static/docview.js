// A document viewer: one page at a time, page image with block boxes, the page's Markdown beside it,
// and citation highlights. Used by the Documents panel and by the Ask panel's source pane.

import { getJson, imageUrl } from "./api.js";
import { blockMarkdown, renderMarkdown } from "./markdown.js";
import { PageView } from "./pageview.js";
import { el, guard } from "./ui.js";

const layoutCache = new Map();

export function forgetLayout(docId) {
  layoutCache.delete(docId);
}

async function loadLayout(docId) {
  if (!layoutCache.has(docId)) {
    const p = getJson(`/v1/documents/${encodeURIComponent(docId)}/layout`).catch((e) => {
      layoutCache.delete(docId);
      throw e;
    });
    layoutCache.set(docId, p);
  }
  const layout = await layoutCache.get(docId);
  return layout.pages;
}

export class DocViewer {
  /** `compact`: no Markdown pane and boxes hidden by default (the Ask panel's source view). */
  constructor(root, { compact = false } = {}) {
    this.root = root;
    this.compact = compact;
    this.docId = null;
    this.page = 1;
    this.pages = [];
    this.highlights = [];
    this.title = el("div", { class: "viewer-title" });
    this.prev = el("button", { type: "button", class: "nav-prev", "aria-label": "previous page", onclick: () => this.go(-1) }, "‹");
    this.next = el("button", { type: "button", class: "nav-next", "aria-label": "next page", onclick: () => this.go(1) }, "›");
    this.counter = el("span", { class: "page-counter" });
    this.boxesToggle = el("input", { type: "checkbox", class: "boxes-toggle" });
    this.boxesToggle.checked = !compact;
    this.boxesToggle.addEventListener("change", () => this.root.classList.toggle("hide-boxes", !this.boxesToggle.checked));
    this.root.classList.toggle("hide-boxes", compact);
    const bar = el("div", { class: "viewer-bar" }, this.title, el("span", { class: "spacer" }),
      this.prev, this.counter, this.next, el("label", { class: "toggle" }, this.boxesToggle, " boxes"));
    this.pageRoot = el("div", { class: "page-pane" });
    this.md = el("div", { class: "markdown page-markdown" });
    const body = el("div", { class: compact ? "viewer-body compact" : "viewer-body" }, this.pageRoot, compact ? null : this.md);
    root.classList.add("doc-viewer");
    root.replaceChildren(bar, body);
    this.view = new PageView(this.pageRoot, { onBlock: (i) => this.markBlock(i) });
    root.addEventListener("keydown", (e) => {
      if (e.target.closest("input, textarea, select")) return;
      if (e.key === "ArrowLeft") this.go(-1);
      if (e.key === "ArrowRight") this.go(1);
    });
  }

  /** Opens a document at a page; `highlights` are boxes to draw on that page (class "highlight"). */
  async open(docId, page = 1, { highlights = [], filename = "" } = {}) {
    this.docId = docId;
    this.filename = filename || this.filename || docId;
    this.highlights = highlights;
    this.pages = await loadLayout(docId);
    await this.show(page);
  }

  async go(delta) {
    const n = this.page + delta;
    if (!this.docId || n < 1 || n > Math.max(this.pages.length, 1)) return;
    this.highlights = [];
    await guard(() => this.show(n));
  }

  async show(page) {
    this.page = page;
    const total = this.pages.length;
    this.counter.textContent = `page ${page}${total ? ` / ${total}` : ""}`;
    this.title.textContent = this.filename;
    this.prev.disabled = page <= 1;
    this.next.disabled = !total || page >= total;
    const layout = this.pages.find((p) => Number(p.page) === page) || { blocks: [] };
    const blocks = layout.blocks || [];
    // the page's text shows at once, with the page number; the image (rendered on demand) follows
    if (!this.compact) {
      this.md.innerHTML = "";
      blocks.forEach((b, i) => {
        const part = el("div", { class: `md-block kind-${b.kind}`, dataset: { index: String(i) } });
        part.innerHTML = renderMarkdown(blockMarkdown(b));
        this.md.append(part);
      });
      if (!blocks.length) this.md.textContent = "No text on this page.";
    }
    this.root.dataset.page = String(page);
    this.root.dataset.doc = this.docId;
    this.root.dataset.ready = "false";
    this.view.clear();
    const url = await imageUrl(`/v1/documents/${encodeURIComponent(this.docId)}/pages/${page}/image`);
    await this.view.setImage(url, `${this.filename}, page ${page}`);
    if (this.page !== page) return undefined; // another page was asked for meanwhile
    this.view.setBlocks(blocks);
    this.root.dataset.ready = "true";
    return this.view.setHighlights(this.highlights);
  }

  markBlock(i) {
    if (this.compact) return;
    this.md.querySelectorAll(".md-block.active").forEach((b) => b.classList.remove("active"));
    const part = this.md.querySelector(`.md-block[data-index="${i}"]`);
    if (part) {
      part.classList.add("active");
      part.scrollIntoView({ block: "nearest" });
    }
  }
}
