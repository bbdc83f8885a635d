// OCR preview panel: OCR one file without indexing; page image with block boxes beside the Markdown.

import { postForm, saveBlob } from "./api.js";
import { blockMarkdown, renderMarkdown } from "./markdown.js";
import { OcrOptionsForm } from "./options.js";
import { PageView } from "./pageview.js";
import { ACCEPT, dropZone } from "./upload.js";
import { el, guard } from "./ui.js";

/** The page image: the API's data URI when given, else the uploaded image itself. */
function pageImage(page, file) {
  const src = page.image || page.image_url || page.image_data_uri;
  if (src) return src;
  return file.type.startsWith("image/") ? URL.createObjectURL(file) : null;
}

export function mountPreview(root) {
  const input = el("input", { type: "file", accept: ACCEPT, id: "preview-input", class: "visually-hidden" });
  const zone = el("label", { class: "dropzone small", for: "preview-input", tabindex: "0" },
    el("strong", {}, "Drop a page to preview"), el("span", {}, "nothing is indexed"), input);
  const optionsRoot = el("div", { class: "options" });
  const options = new OcrOptionsForm(optionsRoot);
  const status = el("p", { class: "status", role: "status" });
  const pageSelect = el("select", { class: "page-select", "aria-label": "page" });
  const mdButton = el("button", { type: "button", disabled: true }, "Download .md");
  const jsonButton = el("button", { type: "button", disabled: true }, "Download layout .json");
  const info = el("span", { class: "page-info" });
  const pageRoot = el("div", { class: "page-pane" });
  const md = el("div", { class: "markdown" });
  const result = el("div", { class: "preview-result", hidden: true },
    el("div", { class: "viewer-bar" }, pageSelect, info, el("span", { class: "spacer" }), mdButton, jsonButton),
    el("div", { class: "viewer-body" }, pageRoot, md));
  root.append(el("h2", {}, "OCR preview"),
    el("p", { class: "hint" }, "See what the OCR finds on a page: boxes coloured by block kind; hover a box to read it."),
    zone, optionsRoot, status, result);
  const view = new PageView(pageRoot, {
    onBlock: (i) => {
      md.querySelectorAll(".md-block.active").forEach((b) => b.classList.remove("active"));
      md.querySelector(`.md-block[data-index="${i}"]`)?.classList.add("active");
    },
  });
  let reply = null;
  let file = null;

  const showPage = async (index) => {
    const page = reply.pages[index];
    const blocks = page.blocks || [];
    const quality = page.quality && page.quality.status !== "ok" ? ` · quality ${page.quality.status}` : "";
    const mode = page.mode ? ` ${page.mode.mode} (${page.mode.reason})` : "";
    info.textContent = `${page.engine || ""}${mode} · ${blocks.length} blocks${quality}`;
    const src = pageImage(page, file);
    view.clear();
    if (src) await view.setImage(src, `page ${page.page}`);
    else status.textContent = "The server sent no page image for this PDF; boxes are shown on a blank page.";
    pageRoot.classList.toggle("blank", !src);
    pageRoot.style.aspectRatio = src ? "" : `${page.width} / ${page.height}`;
    view.setBlocks(blocks);
    md.innerHTML = "";
    blocks.forEach((b, i) => {
      const part = el("div", { class: `md-block kind-${b.kind}`, dataset: { index: String(i) } });
      part.innerHTML = renderMarkdown(blockMarkdown(b));
      md.append(part);
    });
    result.dataset.blocks = String(blocks.length);
  };

  const run = async (f) => {
    file = f;
    status.textContent = `Running OCR on ${f.name}…`;
    result.hidden = true;
    const form = new FormData();
    form.append("file", f, f.name);
    options.appendTo(form);
    try {
      reply = await postForm("/v1/ocr", form);
    } finally {
      status.textContent = "";
    }
    pageSelect.replaceChildren(...reply.pages.map((p, i) => el("option", { value: String(i) }, `page ${p.page}`)));
    mdButton.disabled = jsonButton.disabled = false;
    result.hidden = false;
    await showPage(0);
  };

  pageSelect.addEventListener("change", () => guard(() => showPage(Number(pageSelect.value))));
  const stem = () => (file ? file.name.replace(/\.[^.]+$/, "") : "page");
  mdButton.addEventListener("click", () =>
    saveBlob(new Blob([reply.markdown || ""], { type: "text/markdown" }), `${stem()}.md`));
  jsonButton.addEventListener("click", () => {
    const pages = reply.pages.map(({ image, ...rest }) => rest);
    saveBlob(new Blob([JSON.stringify({ pages }, null, 2)], { type: "application/json" }), `${stem()}.layout.json`);
  });
  dropZone(zone, input, (files) => guard(() => run(files[0])));
}
