// Entry point: hash routing between the panels, the knowledge-base field, the API key dialog.

import { getJson, settings } from "./api.js";
import { mountAsk } from "./ask.js";
import { mountCheckOcr } from "./checkocr.js";
import { firstRunCard, mountDocuments } from "./documents.js";
import { mountPreview } from "./preview.js";
import { mountReview } from "./review.js";
import { hideError } from "./ui.js";
import { mountUpload } from "./upload.js";

const $ = (sel) => document.querySelector(sel);

const documents = mountDocuments($("#panel-documents"));
const ask = mountAsk($("#panel-ask"), { emptyCard: () => firstRunCard(() => checkEmpty()) });
const upload = mountUpload($("#panel-upload"), { onIngested: () => checkEmpty() });
mountPreview($("#panel-preview"));
const review = mountReview($("#panel-review"));
const checkOcr = mountCheckOcr($("#panel-checkocr"));

/** The first-run offer shows in Ask while the knowledge base has no documents. */
async function checkEmpty() {
  try {
    const reply = await getJson("/v1/documents", { kb: settings.kb, limit: 1 });
    ask.setEmpty(reply.documents.length === 0);
  } catch (e) {
    console.warn(e);
    ask.setEmpty(false); // errors show in the panels that need the data
  }
  if (!$("#panel-documents").hidden) documents.refresh();
  if (!$("#panel-review").hidden) review.refresh();
  if (!$("#panel-upload").hidden) upload.refresh();
  if (!$("#panel-checkocr").hidden) checkOcr.refresh();
}

function route() {
  const [panel = "ask", id, page] = location.hash.replace(/^#/, "").split("/");
  const name = ["ask", "documents", "review", "checkocr", "upload", "preview"].includes(panel) ? panel : "ask";
  document.querySelectorAll("main > .panel").forEach((p) => (p.hidden = p.dataset.panel !== name));
  document.querySelectorAll(".tabs a").forEach((a) =>
    a.setAttribute("aria-current", a.dataset.panel === name ? "page" : "false"));
  if (name === "review") review.refresh();
  if (name === "upload") upload.refresh();
  if (name === "checkocr") checkOcr.refresh();
  if (name === "documents") {
    documents.refresh();
    if (id) documents.open(decodeURIComponent(id), Number(page) || 1);
  }
}

function setupKb() {
  const input = $("#kb");
  const fillList = () =>
    $("#kb-list").replaceChildren(...settings.kbs.map((kb) => Object.assign(document.createElement("option"), { value: kb })));
  input.value = settings.kb;
  fillList();
  input.addEventListener("change", () => {
    settings.kb = input.value.trim();
    input.value = settings.kb;
    fillList();
    checkEmpty();
  });
}

function setupKey() {
  const dialog = $("#key-dialog");
  const input = $("#key-input");
  $("#key-button").addEventListener("click", () => {
    input.value = settings.apiKey;
    dialog.showModal();
  });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "save") return;
    settings.apiKey = input.value.trim();
    $("#key-button").classList.toggle("set", Boolean(settings.apiKey));
    hideError();
    checkEmpty();
  });
  $("#key-button").classList.toggle("set", Boolean(settings.apiKey));
}

$("#error .close").addEventListener("click", hideError);
setupKb();
setupKey();
window.addEventListener("hashchange", route);
route();
checkEmpty();
