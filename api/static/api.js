// HTTP client for the /v1 API: auth header from localStorage, JSON errors, SSE over fetch.
// EventSource cannot send an Authorization header, so event streams are read with fetch.

const KEY_STORE = "opticite.apiKey";
const KB_STORE = "opticite.kb";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const settings = {
  get apiKey() { return localStorage.getItem(KEY_STORE) || ""; },
  set apiKey(v) { v ? localStorage.setItem(KEY_STORE, v) : localStorage.removeItem(KEY_STORE); },
  get kb() { return localStorage.getItem(KB_STORE) || "default"; },
  set kb(v) {
    const kb = v || "default";
    localStorage.setItem(KB_STORE, kb);
    const seen = [kb, ...settings.kbs.filter((k) => k !== kb)].slice(0, 20);
    localStorage.setItem(`${KB_STORE}s`, JSON.stringify(seen));
  },
  /** Knowledge bases used in this browser, most recent first (offered in the kb field). */
  get kbs() {
    try {
      return JSON.parse(localStorage.getItem(`${KB_STORE}s`) || "[]");
    } catch {
      return [];
    }
  },
};

function headers(extra = {}) {
  const h = { ...extra };
  if (settings.apiKey) h.Authorization = `Bearer ${settings.apiKey}`;
  return h;
}

async function errorFrom(resp) {
  let code = `http_${resp.status}`;
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    const err = body && body.error;
    if (err) {
      code = err.code || code;
      message = err.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  if (resp.status === 401 || resp.status === 403) {
    message += " (set the API key with the key button at the top right)";
  }
  return new ApiError(resp.status, code, message);
}

export async function request(method, path, { json, form, query, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const init = { method, headers: headers(), signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form) {
    init.body = form;
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", `cannot reach the server: ${e.message}`);
  }
  if (!resp.ok) throw await errorFrom(resp);
  return resp;
}

export async function getJson(path, query) {
  return (await request("GET", path, { query })).json();
}

export async function postJson(path, json, query) {
  return (await request("POST", path, { json, query })).json();
}

export async function postForm(path, form) {
  return (await request("POST", path, { form })).json();
}

export async function del(path) {
  await request("DELETE", path);
}

/** Fetches an image with the auth header; returns an object URL (revoke it when replaced). */
export async function imageUrl(path, query) {
  const resp = await request("GET", path, { query });
  return URL.createObjectURL(await resp.blob());
}

export async function download(path, filename) {
  const resp = await request("GET", path);
  saveBlob(await resp.blob(), filename);
}

export function saveBlob(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** Parses an SSE body; calls onEvent({event, data}) with `data` JSON-decoded when possible. */
export async function readEvents(resp, onEvent) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const raw = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const ev = parseEvent(raw);
      if (ev && onEvent(ev) === false) {
        reader.cancel();
        return;
      }
    }
  }
}

function parseEvent(raw) {
  let event = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const text = data.join("\n");
  try {
    return { event, data: JSON.parse(text) };
  } catch {
    return { event, data: text };
  }
}
