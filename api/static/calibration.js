// Calibration section of the Upload panel: the knowledge base's DeepSeek mode per page kind, measured on
// its own pages (POST /v1/kbs/{kb}/calibration, streamed), the chart and table, and saving the
// recommendation as the kb's default (PUT), which uploads that name no mode then use.

import { getJson, readEvents, request, settings } from "./api.js";
import { el, guard } from "./ui.js";

const num = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const path = () => `/v1/kbs/${encodeURIComponent(settings.kb)}/calibration`;

export function mountCalibration(root) {
  const sample = el("input", { type: "number", id: "calibration-sample", min: "1", max: "200", value: "10", "aria-label": "pages to sample" });
  const run = el("button", { type: "button", id: "calibration-run" }, "Calibrate");
  const save = el("button", { type: "button", id: "calibration-save", disabled: true }, "Save as default");
  const status = el("span", { class: "hint", id: "calibration-status" });
  const saved = el("p", { class: "hint", id: "calibration-saved" });
  const chart = el("div", { class: "calibration-chart", id: "calibration-chart" });
  const table = el("div", { class: "review-table-wrap", id: "calibration-table" });
  let shown = null; // the reply on screen: a run not saved yet, or the saved calibration
  root.append(
    el("h3", {}, "Calibration"),
    el("p", { class: "hint" },
      "Reads a sample of this knowledge base's pages in every DeepSeek mode and recommends the cheapest " +
      "mode within 0.02 CER of the best, per kind of page (needs a DeepSeek server)."),
    el("div", { class: "row" }, el("label", {}, "pages ", sample), run, save, status),
    saved, chart, table,
  );

  function render(reply) {
    shown = reply;
    const modes = Object.entries(reply.modes || {});
    saved.textContent = reply.updated
      ? `Default modes of ${reply.kb}: ${modes.map(([k, m]) => `${k} → ${m}`).join(", ") || "none"}`
      : `${reply.kb} has no saved modes: uploads use the settings' mode.`;
    // the server's own SVG (every text in it escaped), as `opticite calibrate --chart` writes it
    chart.innerHTML = reply.chart_svg || "";
    const report = reply.report;
    save.disabled = !report || Boolean(reply.updated);
    if (!report) return table.replaceChildren();
    const rows = report.stats.map((s) => el("tr", { class: report.recommended[s.kind] === s.mode ? "found" : "" },
      el("td", {}, s.kind), el("td", {}, s.mode), el("td", {}, String(s.pages)), el("td", {}, num(s.cer, 3)),
      el("td", {}, num(s.vision_tokens, 0)), el("td", {}, num(s.output_tokens, 0)), el("td", {}, num(s.seconds, 2)),
      el("td", {}, report.recommended[s.kind] === s.mode ? "recommended" : "")));
    table.replaceChildren(el("table", { class: "doc-table" },
      el("thead", {}, el("tr", {}, ["kind", "mode", "pages", "CER", "vision tok", "output tok", "s/page", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
  }

  run.addEventListener("click", () => guard(async () => {
    run.disabled = true;
    status.textContent = "calibrating…";
    try {
      const resp = await request("POST", path(), { json: { sample: Number(sample.value) || 10, stream: true } });
      await readEvents(resp, ({ event, data }) => {
        if (event === "page") status.textContent = `calibrating… ${data.done}/${data.total} reads`;
        else if (event === "error") throw Object.assign(new Error(data.error.message), { code: data.error.code });
        else if (event === "done") {
          render(data);
          status.textContent = `${data.report.pages.length} reads in ${num(data.report.seconds, 1)} s`;
        }
        return event !== "done";
      });
    } finally {
      run.disabled = false;
      if (status.textContent.startsWith("calibrating")) status.textContent = "";
    }
  }));
  save.addEventListener("click", () => guard(async () => {
    const report = shown && shown.report;
    if (!report) return;
    const resp = await request("PUT", path(), { json: { modes: report.recommended, report } });
    render(await resp.json());
  }));

  return { refresh: () => guard(async () => render(await getJson(path()))) };
}
