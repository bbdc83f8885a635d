// Ask panel: a conversation whose answers carry citation chips [n]; a chip opens the cited page with its
// regions highlighted in the source pane; each answer lists its sources (quote, file, page).

import { postJson, readEvents, request, settings } from "./api.js";
import { DocViewer } from "./docview.js";
import { renderMarkdown } from "./markdown.js";
import { el, guard } from "./ui.js";

const SAMPLE_QUESTION = "Which law governs the agreement?";
const regionPages = (c) => [...new Set((c.regions || []).map((r) => Number(r.page)))];

/** Streams /v1/chat (SSE: token, citations, done); falls back to /v1/ask where chat is missing. */
async function answer(messages, onToken) {
  let resp;
  try {
    resp = await request("POST", "/v1/chat", { json: { messages, kb: settings.kb, stream: true } });
  } catch (e) {
    if (e.status !== 404 && e.status !== 405) throw e;
    const question = messages[messages.length - 1].content;
    return postJson("/v1/ask", { query: question, kb: settings.kb });
  }
  if (!(resp.headers.get("content-type") || "").includes("text/event-stream")) return resp.json();
  const result = { answer: "", citations: [] };
  await readEvents(resp, ({ event, data }) => {
    const type = (data && data.type) || event;
    if (type === "token") {
      result.answer += data.text ?? data.token ?? data.delta ?? data.content ?? "";
      onToken(result.answer);
    } else if (type === "citations") {
      result.citations = data.citations || [];
    } else if (type === "done") {
      if (data.answer) result.answer = data.answer;
      if (data.citations) result.citations = data.citations;
      return false;
    } else if (type === "error") {
      throw Object.assign(new Error((data.error && data.error.message) || data.message || "chat failed"),
        { code: data.error && data.error.code });
    }
    return true;
  });
  return result;
}

export function mountAsk(root, { emptyCard }) {
  const log = el("div", { class: "chat-log", id: "chat-log", "aria-live": "polite" });
  const input = el("textarea", { id: "question", rows: "2", placeholder: "Ask about your documents…  (Enter sends, Shift+Enter: new line)" });
  const send = el("button", { type: "submit", class: "primary" }, "Ask");
  const form = el("form", { class: "ask-form" }, input, send);
  const intro = el("div", { class: "intro" });
  const viewerRoot = el("section", { class: "source-pane", id: "source-pane" },
    el("p", { class: "hint" }, "Click a citation chip to see the cited region on its page."));
  const viewer = new DocViewer(el("div"), { compact: true });
  root.append(el("div", { class: "ask-layout" },
    el("div", { class: "chat-col" }, el("h2", {}, "Ask"), intro, log, form), viewerRoot));
  const messages = [];

  async function showCitation(c, box) {
    const page = regionPages(c)[0] || 1;
    const boxes = (c.regions || []).filter((r) => Number(r.page) === page).map((r) => r.bbox);
    if (!viewerRoot.contains(viewer.root)) viewerRoot.replaceChildren(viewer.root);
    box.querySelectorAll(".chip.active, .source.active").forEach((e) => e.classList.remove("active"));
    box.querySelectorAll(`[data-n="${c.n}"]`).forEach((e) => e.classList.add("active"));
    viewer.root.dataset.citation = String(c.n);
    await viewer.open(c.doc_id, page, { highlights: boxes, filename: c.filename });
    viewerRoot.scrollIntoView({ block: "nearest" });
  }

  function sources(citations) {
    return el("ol", { class: "sources" }, citations.map((c) => el("li", { class: "source", dataset: { n: String(c.n) } },
      el("button", { type: "button", class: "chip", dataset: { n: String(c.n) } }, String(c.n)),
      el("blockquote", {}, c.quote || ""),
      el("span", { class: "where" }, `${c.filename || c.doc_id} · ${c.label || "p. " + (regionPages(c).join(", ") || "?")}`))));
  }

  function renderAnswer(box, reply) {
    const cites = reply.citations || [];
    const byN = new Map(cites.map((c) => [Number(c.n), c]));
    const body = el("div", { class: "markdown" });
    body.innerHTML = renderMarkdown(reply.answer || "_No answer._", { citations: new Set(byN.keys()) });
    box.replaceChildren(body, cites.length ? sources(cites) : el("p", { class: "hint" }, "No sources."));
    box.addEventListener("click", (e) => {
      const chip = e.target.closest(".chip, .source");
      if (chip && byN.has(Number(chip.dataset.n))) guard(() => showCitation(byN.get(Number(chip.dataset.n)), box));
    });
  }

  async function ask(question) {
    messages.push({ role: "user", content: question });
    log.append(el("div", { class: "msg user" }, question));
    const box = el("div", { class: "msg assistant pending" }, el("span", { class: "typing" }, "…"));
    log.append(box);
    box.scrollIntoView({ block: "end" });
    try {
      const reply = await answer(messages, (text) => {
        box.innerHTML = renderMarkdown(text);
      });
      messages.push({ role: "assistant", content: reply.answer || "" });
      renderAnswer(box, reply);
    } catch (e) {
      messages.pop();
      box.replaceChildren(el("p", { class: "error-text" }, e.message));
      throw e;
    } finally {
      box.classList.remove("pending");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    input.value = "";
    send.disabled = true;
    guard(() => ask(q)).finally(() => {
      send.disabled = false;
      input.focus();
    });
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  return {
    /** Shows the first-run card when the knowledge base has no documents. */
    setEmpty(isEmpty) {
      const wasEmpty = intro.childElementCount > 0;
      intro.replaceChildren(...(isEmpty ? [emptyCard()] : []));
      if (wasEmpty && !isEmpty && !input.value) input.value = SAMPLE_QUESTION;
    },
  };
}
