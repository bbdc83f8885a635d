// Small DOM helpers shared by the panels: element builder, error banner, progress rows.

/** el("div", {class: "x", onclick: f}, child, "text") */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

let errorTimer = null;

/** Shows an error plainly in the banner at the top; the message is the API's own message. */
export function showError(err) {
  if (err && err.name === "AbortError") return;
  console.error(err);
  const banner = document.getElementById("error");
  const code = err && err.code ? ` (${err.code})` : "";
  banner.querySelector(".msg").textContent = `${(err && err.message) || err}${code}`;
  banner.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => (banner.hidden = true), 15000);
}

export function hideError() {
  document.getElementById("error").hidden = true;
}

/** Runs an async action, routing any failure to the banner; returns its result or undefined. */
export async function guard(action) {
  try {
    return await action();
  } catch (e) {
    showError(e);
    return undefined;
  }
}

export function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => (box.hidden = true), 4000);
}

const TERMINAL = new Set(["done", "partial", "failed", "cancelled"]); // the job states that end
export const isTerminal = (state) => TERMINAL.has(String(state || "").toLowerCase());
export const isFailed = (state) => ["failed", "cancelled"].includes(String(state || "").toLowerCase());

/** A progress row for one document: name, bar (pages done / total), stage text. */
export function progressRow(name) {
  const bar = el("progress", { max: "1", value: "0" });
  const text = el("span", { class: "stage" }, "queued");
  const row = el("li", { class: "progress-row" }, el("span", { class: "name" }, name), bar, text);
  row.update = (job) => {
    const total = Number(job.pages_total) || 0;
    const done = Number(job.pages_done) || 0;
    if (total > 0) {
      bar.max = String(total);
      bar.value = String(done);
    }
    const state = job.state || "";
    const stage = job.stage && job.stage !== state ? ` · ${job.stage}` : "";
    text.textContent = `${state}${stage}${total ? ` · ${done}/${total} pages` : ""}${job.error ? ` · ${job.error}` : ""}`;
    row.dataset.state = state;
    row.classList.toggle("failed", isFailed(state));
    row.classList.toggle("done", isTerminal(state) && !isFailed(state));
    if (isTerminal(state) && !isFailed(state) && total) bar.value = String(total);
  };
  return row;
}
