// Review panel: the contract review table of the knowledge base (GET /v1/extract; "Read documents" starts an
// extraction job, POST /v1/extract, and follows its events), a row per
// document and a column per field; a cell opens the page with the field's evidence highlighted.

import { download, getJson, postJson, readEvents, request, settings } from "./api.js";
import { DocViewer } from "./docview.js";
import { el, guard } from "./ui.js";

const shown = (f) => (f.found ? String(f.normalized ?? f.value ?? "") || "found" : "—");

export function mountReview(root) {
  const run = el("button", { type: "button", class: "primary", id: "review-run" }, "Read documents");
  const csv = el("button", { type: "button", id: "review-csv" }, "CSV");
  const status = el("span", { class: "hint", id: "review-status" });
  const table = el("div", { class: "review-table-wrap", id: "review-table" });
  const pane = el("section", { class: "source-pane", id: "review-source" },
    el("p", { class: "hint" }, "Click a value to see its evidence on the page."));
  const viewer = new DocViewer(el("div"), { compact: true });
  root.append(el("h2", {}, "Review"),
    el("p", { class: "hint" }, "Key terms of every contract in this knowledge base, each with the text it was read from."),
    el("div", { class: "row" }, run, csv, status), el("div", { class: "ask-layout" }, table, pane));

  async function showEvidence(doc, field, cell) {
    const page = Number((field.regions[0] || {}).page) || 1;
    const boxes = field.regions.filter((r) => Number(r.page) === page).map((r) => r.bbox);
    table.querySelectorAll("td.active").forEach((td) => td.classList.remove("active"));
    cell.classList.add("active");
    if (!pane.contains(viewer.root)) pane.replaceChildren(viewer.root);
    viewer.root.dataset.field = field.name;
    await viewer.open(doc.doc_id, page, { highlights: boxes, filename: doc.filename });
  }

  function render(reply) {
    const docs = reply.documents || [];
    if (!docs.length) {
      table.replaceChildren(el("p", { class: "hint" }, "No document has been read yet: press “Read documents”."));
      return;
    }
    const names = docs[0].fields.map((f) => f.name);
    const rows = docs.map((doc) => el("tr", { dataset: { id: doc.doc_id } },
      el("th", { scope: "row" }, doc.filename || doc.doc_id),
      doc.fields.map((f) => {
        const cell = el("td", { dataset: { field: f.name }, class: f.found ? "found" : "absent", title: f.quote || "not found" }, shown(f));
        if (f.found && f.regions && f.regions.length) {
          cell.tabIndex = 0;
          cell.addEventListener("click", () => guard(() => showEvidence(doc, f, cell)));
        }
        return cell;
      })));
    table.replaceChildren(el("table", { class: "doc-table review-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "document"), names.map((n) => el("th", {}, n)))),
      el("tbody", {}, rows)));
  }

  async function refresh() {
    render(await getJson("/v1/extract", { kb: settings.kb }));
  }

  run.addEventListener("click", () => guard(async () => {
    run.disabled = true;
    status.textContent = "reading…";
    try {
      const job = await postJson("/v1/extract", { kb: settings.kb });
      const resp = await request("GET", `/v1/extract/jobs/${job.id}/events`);
      await readEvents(resp, ({ event, data }) => {
        if (event === "progress") status.textContent = `reading… ${data.documents_done}/${data.documents_total}${data.current ? ` · ${data.current}` : ""}`;
        return event !== "done";
      });
      const done = await getJson(`/v1/extract/jobs/${job.id}`);
      if (done.state !== "done") throw new Error(done.error || `the extraction ${done.state}`);
      render(done);
      status.textContent = `${(done.documents || []).length} document(s), ${done.documents_read} read now`;
    } finally {
      run.disabled = false;
      if (status.textContent === "reading…") status.textContent = "";
    }
  }));
  csv.addEventListener("click", () => guard(() =>
    download(`/v1/extract?kb=${encodeURIComponent(settings.kb)}&format=csv`, `${settings.kb}-review.csv`)));

  return { refresh: () => guard(refresh) };
}
