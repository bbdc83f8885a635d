// Upload panel: drop or pick files, choose OCR options, follow each document's job live.

import { postForm, settings } from "./api.js";
import { mountCalibration } from "./calibration.js";
import { trackJob } from "./jobs.js";
import { OcrOptionsForm } from "./options.js";
import { el, guard, progressRow } from "./ui.js";

export const ACCEPT = ".pdf,.png,.jpg,.jpeg,.tif,.tiff,.webp,.bmp,application/pdf,image/*";

/** Wires a drop zone and a file input to `onFiles(files)`. */
export function dropZone(zone, input, onFiles) {
  input.addEventListener("change", () => {
    if (input.files.length) onFiles(Array.from(input.files));
    input.value = "";
  });
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) onFiles(Array.from(e.dataTransfer.files));
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
}

/** Follows a job in a progress row appended to `list`; resolves with the final job. */
export async function follow(list, name, jobId) {
  const row = progressRow(name);
  row.dataset.job = jobId;
  list.prepend(row);
  try {
    return await trackJob(jobId, (job) => row.update(job));
  } catch (e) {
    row.update({ state: "failed", error: e.message });
    throw e;
  }
}

export function mountUpload(root, { onIngested }) {
  const input = el("input", { type: "file", multiple: true, accept: ACCEPT, id: "upload-input", class: "visually-hidden" });
  const zone = el("label", { class: "dropzone", for: "upload-input", tabindex: "0" },
    el("strong", {}, "Drop PDFs or page images here"), el("span", {}, "or click to choose files"), input);
  const optionsRoot = el("div", { class: "options" });
  const options = new OcrOptionsForm(optionsRoot, { withTags: true });
  const list = el("ul", { class: "progress-list", id: "upload-progress" });
  const calibrationRoot = el("section", { class: "calibration", id: "calibration" });
  root.append(
    el("h2", {}, "Upload"),
    el("p", { class: "hint" }, "Files go into the knowledge base chosen at the top. Progress shows pages done of total."),
    zone, optionsRoot, list, calibrationRoot,
  );
  const calibration = mountCalibration(calibrationRoot);

  const send = async (file) => {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("kb", settings.kb);
    options.appendTo(form);
    const reply = await postForm("/v1/documents", form);
    const job = await follow(list, file.name, reply.job_id);
    onIngested(reply.document_id, job);
  };
  dropZone(zone, input, (files) => files.forEach((f) => guard(() => send(f))));
  return { refresh: () => calibration.refresh() };
}
