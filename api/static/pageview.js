// A page image with boxes drawn over it as absolutely positioned divs.
// Boxes are normalized [x0, y0, x1, y1] (0..1, top-left origin), so percentages place them at any zoom.

import { escapeHtml } from "./markdown.js";

const KINDS = ["title", "heading", "text", "list", "table", "figure", "caption", "equation", "code",
  "header", "footer", "page_number"];

/** Accepts [x0,y0,x1,y1] or {x0,y0,x1,y1}; returns the array form. */
export function boxArray(bbox) {
  return Array.isArray(bbox) ? bbox.map(Number) : [bbox.x0, bbox.y0, bbox.x1, bbox.y1].map(Number);
}

function place(el, bbox) {
  const [x0, y0, x1, y1] = boxArray(bbox);
  Object.assign(el.style, {
    left: `${x0 * 100}%`,
    top: `${y0 * 100}%`,
    width: `${Math.max(0, x1 - x0) * 100}%`,
    height: `${Math.max(0, y1 - y0) * 100}%`,
  });
  return el;
}

export class PageView {
  /** `root` is an empty element the view fills; `onBlock(i)` is called when a box is hovered or focused. */
  constructor(root, { onBlock } = {}) {
    this.root = root;
    this.onBlock = onBlock || (() => {});
    root.classList.add("page-view");
    root.innerHTML = "";
    this.img = document.createElement("img");
    this.img.className = "page-img";
    this.img.alt = "page image";
    this.overlay = document.createElement("div");
    this.overlay.className = "overlay";
    this.tip = document.createElement("div");
    this.tip.className = "box-tip";
    this.tip.hidden = true;
    root.append(this.img, this.overlay, this.tip);
    this.url = null;
  }

  /** Shows an image; `url` may be an object URL, which is revoked when replaced. */
  async setImage(url, alt = "page image") {
    if (this.url && this.url.startsWith("blob:")) URL.revokeObjectURL(this.url);
    this.url = url;
    this.img.alt = alt;
    const loaded = new Promise((resolve) => {
      this.img.onload = resolve;
      this.img.onerror = resolve;
    });
    this.img.src = url;
    await loaded;
  }

  clear() {
    this.overlay.innerHTML = "";
    this.tip.hidden = true;
  }

  /** Draws one box per block, coloured by kind; hover or focus shows the block's Markdown. */
  setBlocks(blocks) {
    this.overlay.querySelectorAll(".box").forEach((b) => b.remove());
    blocks.forEach((block, i) => {
      const kind = KINDS.includes(block.kind) ? block.kind : "text";
      const el = place(document.createElement("div"), block.bbox);
      el.className = `box kind-${kind}`;
      el.tabIndex = 0;
      el.dataset.index = String(i);
      el.dataset.kind = block.kind;
      el.setAttribute("aria-label", `${block.kind} block ${i + 1}`);
      const show = () => this.showTip(el, block, i);
      el.addEventListener("mouseenter", show);
      el.addEventListener("focus", show);
      el.addEventListener("mouseleave", () => (this.tip.hidden = true));
      el.addEventListener("blur", () => (this.tip.hidden = true));
      this.overlay.append(el);
    });
  }

  showTip(el, block, i) {
    const text = (block.markdown || "").slice(0, 400);
    this.tip.innerHTML = `<b>${escapeHtml(block.kind)}</b> ${escapeHtml(text)}`;
    const [, y0, , y1] = boxArray(block.bbox);
    this.tip.style.top = y1 < 0.8 ? `${y1 * 100}%` : "";
    this.tip.style.bottom = y1 < 0.8 ? "" : `${(1 - y0) * 100}%`;
    this.tip.hidden = false;
    this.onBlock(i, el);
  }

  /** Draws citation highlights (class "highlight") and scrolls the first into view. */
  setHighlights(bboxes, { scroll = true } = {}) {
    this.overlay.querySelectorAll(".highlight").forEach((b) => b.remove());
    const els = bboxes.map((bbox) => {
      const el = place(document.createElement("div"), bbox);
      el.className = "highlight";
      el.dataset.bbox = boxArray(bbox).join(",");
      this.overlay.append(el);
      return el;
    });
    if (scroll && els.length) els[0].scrollIntoView({ block: "center", behavior: "smooth" });
    return els;
  }
}
