// A small, safe Markdown renderer: all text is HTML-escaped; only <table> HTML from OCR survives,
// rebuilt from a whitelist of table tags with colspan/rowspan as the only attributes.

const TABLE_TAGS = new Set(["table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col"]);
const SPAN_ATTRS = ["colspan", "rowspan"];

export function escapeHtml(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Rebuilds table HTML keeping only whitelisted tags; text of anything else is kept, escaped. */
export function sanitizeTable(html) {
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return escapeHtml(node.textContent);
    if (node.nodeType !== Node.ELEMENT_NODE) return "";
    const inner = Array.from(node.childNodes).map(walk).join("");
    const tag = node.tagName.toLowerCase();
    if (!TABLE_TAGS.has(tag)) return inner;
    const attrs = SPAN_ATTRS.filter((a) => /^\d{1,3}$/.test(node.getAttribute(a) || ""))
      .map((a) => ` ${a}="${node.getAttribute(a)}"`)
      .join("");
    return tag === "col" ? `<col${attrs}>` : `<${tag}${attrs}>${inner}</${tag}>`;
  };
  return Array.from(doc.body.childNodes).map(walk).join("");
}

function inline(text, opts) {
  const codes = [];
  let s = escapeHtml(text).replace(/`([^`]+)`/g, (_, c) => {
    codes.push(`<code>${c}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  s = s
    .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
    .replace(/__(.+?)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*(?!\s)(.+?)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^_\w])_(?!\s)(.+?)_(?!\w)/g, "$1<em>$2</em>");
  if (opts.citations) {
    s = s.replace(/\[(\d{1,3})\]/g, (m, n) =>
      opts.citations.has(Number(n))
        ? `<button type="button" class="chip" data-n="${n}" title="show source ${n}">${n}</button>`
        : m,
    );
  }
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

const splitRow = (line) =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());

function pipeTable(lines, opts) {
  const head = splitRow(lines[0]).map((c) => `<th>${inline(c, opts)}</th>`).join("");
  const body = lines
    .slice(2)
    .map((l) => `<tr>${splitRow(l).map((c) => `<td>${inline(c, opts)}</td>`).join("")}</tr>`)
    .join("");
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const isTableSep = (l) => /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(l || "");
const LIST_RE = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
const PAGE_MARK_RE = /^\s*<!--\s*page\s+(\d+)\s*-->\s*$/i;

function renderBlocks(lines, opts) {
  const out = [];
  let i = 0;
  const para = [];
  const flush = () => {
    // a line break inside a paragraph is soft (OCR wraps lines), as in CommonMark
    if (para.length) out.push(`<p>${para.map((l) => inline(l.trim(), opts)).join(" ")}</p>`);
    para.length = 0;
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) {
      flush();
      i++;
    } else if (/^\s*```/.test(line)) {
      flush();
      const code = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
      i++;
    } else if ((m = line.match(PAGE_MARK_RE))) {
      flush();
      out.push(`<div class="page-mark" data-page="${m[1]}">page ${m[1]}</div>`);
      i++;
    } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      flush();
      out.push(`<h${m[1].length}>${inline(m[2], opts)}</h${m[1].length}>`);
      i++;
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push("<hr>");
      i++;
    } else if (line.includes("|") && isTableSep(lines[i + 1])) {
      flush();
      const rows = [line, lines[i + 1]];
      for (i += 2; i < lines.length && lines[i].includes("|") && lines[i].trim(); i++) rows.push(lines[i]);
      out.push(pipeTable(rows, opts));
    } else if (LIST_RE.test(line)) {
      flush();
      const start = (line.match(/^\s*(\d+)/) || [])[1];
      const items = [];
      for (; i < lines.length && (m = lines[i].match(LIST_RE)); i++) items.push(`<li>${inline(m[2], opts)}</li>`);
      const startAttr = start && start !== "1" ? ` start="${Number(start)}"` : "";
      out.push(start ? `<ol${startAttr}>${items.join("")}</ol>` : `<ul>${items.join("")}</ul>`);
    } else if ((m = line.match(/^\s*>\s?(.*)$/))) {
      flush();
      out.push(`<blockquote>${inline(m[1], opts)}</blockquote>`);
      i++;
    } else {
      para.push(line);
      i++;
    }
  }
  flush();
  return out.join("\n");
}

/** A layout block's Markdown, with the heading marks an engine may leave out for titles and headings. */
export function blockMarkdown(block) {
  const md = block.markdown || "";
  if (/^\s*#/.test(md) || !["title", "heading"].includes(block.kind)) return md;
  const level = block.kind === "title" ? 1 : Math.min(Math.max(Number(block.level) || 2, 1), 6);
  return `${"#".repeat(level)} ${md.replace(/\s*\n\s*/g, " ")}`;
}

/**
 * Renders Markdown to safe HTML. opts.citations: a Set of citation numbers; `[n]` in the text
 * becomes a chip button (class "chip", data-n) for each number in the set.
 */
export function renderMarkdown(md, opts = {}) {
  const parts = String(md || "").split(/(<table[\s\S]*?<\/table>)/i);
  return parts
    .map((part, k) => (k % 2 ? `<div class="table-wrap">${sanitizeTable(part)}</div>` : renderBlocks(part.split("\n"), opts)))
    .join("\n");
}
