// Documents panel: the knowledge base's documents with status and quality, a page viewer, delete,
// reindex, and the first-run offer to load the generated sample set into an empty knowledge base.

import { del, download, getJson, postJson, request, settings } from "./api.js";
import { DocViewer, forgetLayout } from "./docview.js";
import { follow } from "./upload.js";
import { el, guard, isFailed, notice } from "./ui.js";

const REFRESH_MS = 2000; // while a document is queued or processing
const docsOf = (reply) => reply.documents; // the list and the samples reply alike
const docId = (d) => d.id || d.document_id;

// details carry per-page rows in `page_details`; `pages` is the page count
const pageRows = (doc) => doc.page_details || (Array.isArray(doc.pages) ? doc.pages : []);

function qualityWarnings(doc) {
  const pages = pageRows(doc);
  const bad = pages.filter((p) => {
    const q = p.quality && typeof p.quality === "object" ? p.quality.status : p.quality || p.quality_status;
    return q && q !== "ok";
  });
  const warnings = bad.map((p) => {
    const q = typeof p.quality === "object" ? p.quality : { status: p.quality || p.quality_status, reason: p.quality_reason };
    return `p${p.n || p.page}: ${q.status}${q.reason ? ` (${q.reason})` : ""}`;
  });
  if (doc.error) warnings.unshift(doc.error);
  return warnings;
}

function engines(doc) {
  const pages = pageRows(doc);
  return [...new Set(pages.map((p) => p.engine).filter(Boolean))].join(", ") || doc.engine || "";
}

const pageCount = (doc) => (Array.isArray(doc.pages) ? doc.pages.length : doc.pages ?? doc.page_count ?? "");

/** Loads the sample set into the current knowledge base and follows its jobs in `list`. */
export async function loadSamples(list) {
  const reply = await postJson("/v1/samples", { kb: settings.kb });
  const docs = docsOf(reply);
  const name = (d, i) => d.filename || `sample file ${i + 1} of ${docs.length}`;
  await Promise.all(docs.map((d, i) => (d.job_id ? follow(list, name(d, i), d.job_id) : null)));
  return docs;
}

export function firstRunCard(onLoaded) {
  const list = el("ul", { class: "progress-list" });
  const button = el("button", { type: "button", class: "primary", id: "load-samples" }, "Load the sample contract");
  button.addEventListener("click", () =>
    guard(async () => {
      button.disabled = true;
      try {
        await loadSamples(list);
        notice("Sample set loaded. Try: Which law governs the agreement?");
        onLoaded();
      } finally {
        button.disabled = false;
      }
    }));
  return el("div", { class: "card first-run" },
    el("h3", {}, `The knowledge base “${settings.kb}” is empty`),
    el("p", {}, "Load a small generated sample set (a two-page services contract and a scan of its first page) "
      + "and ask it a question, or upload your own files."),
    button, list);
}

// the document card (title, parties, date read from the first pages) under the file name
function cardLine(card) {
  if (!card) return "";
  const parts = [card.title && card.title.value, card.parties.map((p) => p.value).join(" · "),
    card.dates.length ? card.dates[0].value : ""].filter(Boolean);
  return parts.length ? el("div", { class: "doc-card hint" }, parts.join(" — ")) : "";
}

export function mountDocuments(root) {
  const tbody = el("tbody");
  const table = el("table", { class: "doc-table" },
    el("thead", {}, el("tr", {}, ["File", "Status", "Pages", "Engine", "Warnings", ""].map((h) => el("th", {}, h)))),
    tbody);
  const empty = el("div", { class: "empty" });
  const jobs = el("ul", { class: "progress-list" });
  const viewerRoot = el("section", { class: "card", id: "doc-viewer", hidden: true });
  const viewer = new DocViewer(viewerRoot);
  const refreshButton = el("button", { type: "button", onclick: () => guard(refresh) }, "Refresh");
  root.append(el("div", { class: "panel-head" }, el("h2", {}, "Documents"), refreshButton),
    empty, el("div", { class: "table-wrap" }, table), jobs, viewerRoot);

  let refreshTimer = null;

  async function open(doc, page = 1) {
    viewerRoot.hidden = false;
    await viewer.open(docId(doc), page, { filename: doc.filename });
    viewerRoot.scrollIntoView({ block: "start" });
  }

  async function reindex(doc) {
    const reply = await (await request("POST", `/v1/documents/${encodeURIComponent(docId(doc))}/reindex`)).json();
    forgetLayout(docId(doc));
    const jobId = reply.job_id || reply.id;
    if (jobId) await follow(jobs, `${doc.filename} (reindex)`, jobId);
    await refresh();
  }

  async function remove(doc) {
    if (!confirm(`Delete ${doc.filename} from “${settings.kb}”?`)) return;
    await del(`/v1/documents/${encodeURIComponent(docId(doc))}`);
    forgetLayout(docId(doc));
    if (viewer.docId === docId(doc)) viewerRoot.hidden = true;
    notice(`Deleted ${doc.filename}`);
    await refresh();
  }

  function row(doc) {
    const warnings = qualityWarnings(doc);
    const action = (label, fn, cls) => el("button", { type: "button", class: cls, onclick: () => guard(() => fn(doc)) }, label);
    const mdName = `${(doc.filename || "document").replace(/\.[^.]+$/, "")}.md`;
    const getMd = () => download(`/v1/documents/${encodeURIComponent(docId(doc))}/markdown`, mdName);
    return el("tr", { dataset: { id: docId(doc), status: doc.status || "" } },
      el("td", { class: "file" }, el("a", { href: `#documents/${docId(doc)}/1` }, doc.filename || docId(doc)),
        cardLine(doc.card)),
      el("td", {}, el("span", { class: `badge ${isFailed(doc.status) ? "bad" : doc.status}` }, doc.status || "")),
      el("td", {}, String(pageCount(doc))),
      el("td", {}, engines(doc)),
      el("td", { class: warnings.length ? "warn" : "" }, warnings.join("; ")),
      el("td", { class: "actions" }, action("Open", () => open(doc)), action(".md", getMd),
        action("Reindex", reindex), action("Delete", remove, "danger")));
  }

  async function refresh() {
    const docs = docsOf(await getJson("/v1/documents", { kb: settings.kb }));
    // the list may carry only page counts; fetch details for engine and quality columns
    const detailed = await Promise.all(docs.map((d) =>
      d.page_details ? d : getJson(`/v1/documents/${encodeURIComponent(docId(d))}`).catch(() => d)));
    tbody.replaceChildren(...detailed.map(row));
    table.hidden = !detailed.length;
    empty.replaceChildren(...(detailed.length ? [] : [firstRunCard(() => guard(refresh))]));
    clearTimeout(refreshTimer);
    if (detailed.some((d) => ["queued", "processing"].includes(d.status))) {
      refreshTimer = setTimeout(() => !root.hidden && guard(refresh), REFRESH_MS);
    }
    return detailed;
  }

  return {
    refresh: () => guard(refresh),
    open: (id, page) => guard(async () => open(await getJson(`/v1/documents/${encodeURIComponent(id)}`), page)),
  };
}
