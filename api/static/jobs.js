// Follows a job to its end: SSE from /v1/jobs/{id}/events, falling back to polling /v1/jobs/{id}.

import { getJson, readEvents, request } from "./api.js";
import { isTerminal } from "./ui.js";

const POLL_MS = 1000;

async function followEvents(jobId, onUpdate) {
  const resp = await request("GET", `/v1/jobs/${encodeURIComponent(jobId)}/events`);
  if (!(resp.headers.get("content-type") || "").includes("text/event-stream")) throw new Error("no event stream");
  let last = null;
  await readEvents(resp, ({ data: job }) => {
    if (!job || job.state === undefined) return true;
    last = job;
    onUpdate(job);
    return !isTerminal(job.state);
  });
  return last;
}

async function poll(jobId, onUpdate) {
  for (;;) {
    const job = await getJson(`/v1/jobs/${encodeURIComponent(jobId)}`);
    onUpdate(job);
    if (isTerminal(job.state)) return job;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Calls onUpdate(job) on every change; resolves with the final job. */
export async function trackJob(jobId, onUpdate) {
  try {
    const last = await followEvents(jobId, onUpdate);
    if (last && isTerminal(last.state)) return last;
  } catch (e) {
    if (e.status === 401 || e.status === 403) throw e;
  }
  return poll(jobId, onUpdate);
}
