// The OCR options form shared by Upload and OCR preview: engine, resolution mode, prompt, preprocessing.

import { el } from "./ui.js";

const ENGINES = [
  ["auto", "auto (text layer, else OCR)"],
  ["textlayer", "text layer"],
  ["rapidocr", "RapidOCR (CPU)"],
  ["deepseek", "DeepSeek-OCR"],
  ["vlm", "vision model (screenshots, drawings)"],
];
const MODES = [
  ["gundam", "Gundam (tiles + 1024 overview)"],
  ["tiny", "Tiny 512"],
  ["small", "Small 640"],
  ["base", "Base 1024"],
  ["large", "Large 1280"],
  ["auto", "auto (per page: small or gundam)"],
];
const PROMPTS = [
  ["document", "document to Markdown"],
  ["free", "free OCR"],
  ["figure", "parse figure"],
  ["describe", "describe"],
  ["locate", "locate…"],
  ["custom", "custom prompt…"],
];
const PREPROCESS = [
  ["denoise", "denoise"],
  ["clahe", "contrast (CLAHE)"],
  ["deskew", "deskew"],
  ["binarize", "binarize"],
  ["perspective", "perspective fix"],
];

const select = (name, options) =>
  el("select", { name }, options.map(([value, label]) => el("option", { value }, label)));

const field = (label, control) => el("label", { class: "field" }, el("span", {}, label), control);

export class OcrOptionsForm {
  constructor(root, { withTags = false } = {}) {
    this.root = root;
    this.engine = select("engine", ENGINES);
    this.mode = select("mode", MODES);
    this.prompt = select("prompt", PROMPTS);
    this.custom = el("textarea", { name: "custom_prompt", rows: "2", placeholder: "<image>\\n<|grounding|>…" });
    this.locate = el("input", { name: "locate_text", type: "text", placeholder: "text to locate" });
    this.checks = PREPROCESS.map(([name, label]) => [name, el("input", { type: "checkbox", name }), label]);
    this.tags = withTags ? el("input", { name: "tags", type: "text", placeholder: "comma,separated" }) : null;
    this.force = withTags ? el("input", { name: "force", type: "checkbox" }) : null;
    const customField = field("custom prompt", this.custom);
    const locateField = field("locate", this.locate);
    const sync = () => {
      customField.hidden = this.prompt.value !== "custom";
      locateField.hidden = this.prompt.value !== "locate";
    };
    this.prompt.addEventListener("change", sync);
    sync();
    root.append(
      el(
        "div",
        { class: "options-grid" },
        field("engine", this.engine),
        field("resolution", this.mode),
        field("prompt", this.prompt),
        customField,
        locateField,
        this.tags && field("tags", this.tags),
      ),
      el(
        "fieldset",
        { class: "checks" },
        el("legend", {}, "preprocessing"),
        this.checks.map(([, box, label]) => el("label", {}, box, ` ${label}`)),
        this.force && el("label", { title: "ingest again even if the same file is already in the knowledge base" },
          this.force, " re-ingest duplicates"),
      ),
    );
  }

  /** Adds the options to a multipart form using the API's field names. */
  appendTo(form) {
    form.append("engine", this.engine.value);
    form.append("mode", this.mode.value);
    const preset = this.prompt.value;
    form.append("prompt", preset === "custom" ? this.custom.value.trim() || "document" : preset);
    if (preset === "locate" && this.locate.value.trim()) form.append("locate_text", this.locate.value.trim());
    const chosen = this.checks.filter(([, box]) => box.checked).map(([name]) => name);
    if (chosen.length) form.append("preprocess", chosen.join(","));
    if (this.tags && this.tags.value.trim()) form.append("tags", this.tags.value.trim());
    if (this.force && this.force.checked) form.append("force", "true");
    return form;
  }
}
