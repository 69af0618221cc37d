import { APIRequestContext, expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { sliceFile } from "./images";
import { TOKEN_FILE } from "./accounts";

/**
 * REST helpers for specs that need server state (uploads, retraining sessions) of their own, so no
 * spec depends on another having run first, and counts are compared with what was there before.
 */

/** The admin API token the setup project created, for changes made over REST. */
export function adminHeaders() {
  return { Authorization: `Bearer ${readFileSync(TOKEN_FILE, "utf8").trim()}` };
}

export async function getJson(request: APIRequestContext, path: string) {
  const response = await request.get(path);
  expect(response.ok(), `GET ${path}: ${response.status()}`).toBeTruthy();
  return response.json();
}

/** What the Retrain page's panels count, read over REST. */
export async function retrainCounts(request: APIRequestContext) {
  const [stats, sessions, models] = await Promise.all([
    getJson(request, "/database/stats"),
    getJson(request, "/retrain/sessions?limit=100"),
    getJson(request, "/models"),
  ]);
  return {
    pending: stats.pending_images as number,
    sessions: sessions.total as number,
    models: (models.models as unknown[]).length,
  };
}

/**
 * Uploads one generated slice per variant as `className`; every one must be new. Those held for
 * review (the model reads generated slices as no tumour) are confirmed, as an annotator would, so
 * all of them wait for the next retraining job.
 */
export async function uploadSlices(request: APIRequestContext, className: string, variants: number[]) {
  const form = new FormData();
  form.append("class_name", className);
  for (const variant of variants) {
    const file = sliceFile(variant, `${className}-${variant}.bmp`);
    form.append("files", new Blob([new Uint8Array(file.buffer)], { type: file.mimeType }), file.name);
  }
  const response = await request.post("/retrain", { multipart: form, headers: adminHeaders() });
  expect(response.ok(), await response.text()).toBeTruthy();
  const body = await response.json();
  expect(body.stored + body.held, "fresh variants are stored, not duplicates").toBe(variants.length);
  const held = (body.results as { outcome: string; id: number }[]).filter((r) => r.outcome === "held");
  for (const { id } of held) {
    const decided = await request.post("/retrain/review/decide", {
      data: { id, decision: "confirm" },
      headers: adminHeaders(),
    });
    expect(decided.ok(), await decided.text()).toBeTruthy();
  }
}

/** Starts a short retraining job over REST and answers its session id. */
export async function triggerRetrain(request: APIRequestContext, epochs = 1, fineTuneEpochs = 0) {
  const response = await request.post("/retrain/trigger", {
    data: { epochs, fine_tune_epochs: fineTuneEpochs },
    headers: adminHeaders(),
  });
  expect(response.status(), await response.text()).toBe(202);
  return (await response.json()).session_id as number;
}

const FINISHED = ["completed", "rejected", "failed"];

/** Waits until session `id` has ended and answers its final status (never `failed`). */
export async function waitForJob(request: APIRequestContext, id: number, timeout = 150_000) {
  let status = "";
  await expect
    .poll(
      async () => {
        const body = await getJson(request, "/retrain/status");
        expect(body.session.id).toBe(id);
        status = body.status;
        return FINISHED.includes(status) && body.progress === null;
      },
      { timeout, intervals: [250] },
    )
    .toBe(true);
  expect(status, "the retraining job failed").not.toBe("failed");
  return status;
}
