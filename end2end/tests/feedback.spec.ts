import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { sliceFile } from "./images";
import { adminHeaders, getJson, waitForJob } from "./api";

const CLASSES = ["glioma", "meningioma", "notumor", "pituitary"];

/**
 * The loop from production, in a real browser: predict, mark the answer wrong with the right class,
 * find the correction as a pending upload with its provenance, retrain on corrections only, see the
 * session count it, and read the answering version's reviewed accuracy on the Monitor page.
 */
test("a wrong answer corrected on the Predict page is trained on and counted on the Monitor page", async ({
  page,
  request,
}) => {
  test.setTimeout(240_000);
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(sliceFile(612));
  await page.getByTestId("predict-submit").click();
  const result = page.getByTestId("prediction");
  await expect(result).toBeVisible();
  await expect(result.getByTestId("slice-kept")).toContainText("keeps the slice");
  const answered = (await result.getByTestId("predicted-class").textContent())!.trim();
  const serving = (await getJson(request, "/models")).active_version as string;

  // Correct it to the first class the model did not answer (the picker lists only those).
  const picker = result.getByTestId("feedback-class");
  const truth = await picker.locator("option").first().getAttribute("value");
  expect(CLASSES).toContain(truth);
  await picker.selectOption(truth!);
  await result.getByTestId("feedback-wrong").click();
  await expect(result.getByTestId("feedback-result")).toContainText("Recorded as");
  await expect(result.getByTestId("feedback-right")).toHaveCount(0);

  // The correction is an upload whose provenance is the prediction; a confident model holds it for
  // a second look, which an admin gives here.
  const listed = await getJson(request, "/uploads?limit=1");
  const correction = listed.uploads[0];
  expect(correction.class_name).toBe(truth);
  expect(correction.prediction_id).toBeGreaterThan(0);
  if (correction.status === "held") {
    const decided = await request.post("/retrain/review/decide", {
      data: { id: correction.id, decision: "confirm" },
      headers: adminHeaders(),
    });
    expect(decided.ok(), await decided.text()).toBeTruthy();
  }
  await page.goto("/data");
  await waitForHydration(page);
  const row = page.locator(`[data-upload-id="${correction.id}"]`);
  await expect(row.getByTestId("data-provenance")).toContainText(
    `correction of prediction ${correction.prediction_id}`,
  );
  await expect(row).toHaveAttribute("data-status", "pending");

  // Retrain on corrections only: the session says it learnt from this one.
  await page.goto("/retrain");
  await waitForHydration(page);
  await page.getByTestId("retrain-sources").selectOption("feedback");
  await page.getByTestId("trigger-retrain").click();
  await expect(page.getByTestId("trigger-result")).toBeVisible();
  const status = await getJson(request, "/retrain/status");
  await waitForJob(request, status.session.id);
  const sessions = await getJson(request, "/retrain/sessions?limit=1");
  expect(sessions.sessions[0].sources).toBe("feedback");
  expect(sessions.sessions[0].feedback_images).toBeGreaterThanOrEqual(1);
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("session-images").first()).toContainText("correction");

  // The version that answered now has a reviewed answer that was wrong.
  await page.goto("/monitor");
  await waitForHydration(page);
  const live = page.getByTestId("live-accuracy");
  const versionRow = live.getByTestId("live-accuracy-row").filter({ hasText: serving });
  await expect(versionRow).toBeVisible();
  const accuracy = await getJson(request, "/metrics/accuracy");
  const reviewed = accuracy.versions.find((v: { model_version: string }) => v.model_version === serving);
  expect(reviewed.reviewed).toBeGreaterThanOrEqual(1);
  expect(reviewed.confusion[CLASSES.indexOf(truth!)][CLASSES.indexOf(answeredClass(answered))]).toBeGreaterThanOrEqual(1);
  await expectDrawn(page, "live-confusion");
  await page.screenshot({ path: test.info().outputPath("monitor-live-accuracy.png"), fullPage: true });
});

test("the review queue shows kept slices first by uncertainty and takes a verdict with one click", async ({
  page,
  request,
}) => {
  // Two fresh predictions, so the queue is not empty whatever ran before.
  for (const variant of [613, 614]) {
    const file = sliceFile(variant);
    const response = await request.post("/predict", {
      multipart: { file: { name: file.name, mimeType: file.mimeType, buffer: file.buffer } },
    });
    expect(response.ok(), await response.text()).toBeTruthy();
  }
  await expect
    .poll(async () => (await getJson(request, "/predictions/review?limit=1")).total, { timeout: 15_000 })
    .toBeGreaterThan(0);
  await page.goto("/review");
  await waitForHydration(page);
  const items = page.getByTestId("queue-item");
  await expect(items.first()).toBeVisible();
  // The slice is served to the signed-in reviewer and drawn.
  const slice = items.first().locator("img.queue-slice");
  await expect
    .poll(() => slice.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeGreaterThan(0);
  // Ordered as the server orders them: needs-review first, then the smallest margin.
  const queue = await getJson(request, "/predictions/review?limit=20");
  const shownIds = await items.evaluateAll((nodes) => nodes.map((n) => Number(n.getAttribute("data-prediction"))));
  expect(shownIds).toEqual(queue.items.map((item: { prediction_id: number }) => item.prediction_id));
  const first = shownIds[0];
  // Where the model looked, over the kept slice, on demand; asking records no prediction.
  const before = (await getJson(request, "/metrics")).predictions_total;
  await items.first().getByTestId("queue-heatmap").click();
  await expect(items.first().getByTestId("heatmap")).toBeVisible();
  await expectDrawn(page, "heatmap");
  expect((await getJson(request, "/metrics")).predictions_total).toBe(before);
  await items.first().getByTestId("feedback-right").click();
  await expect(items.first().getByTestId("feedback-result")).toContainText("is right");
  await page.getByTestId("review-next").click();
  await expect(page.locator(`[data-prediction="${first}"]`)).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath("review.png"), fullPage: true });
});

/** The class name behind a label the page shows ("No tumour" -> "notumor"). */
function answeredClass(label: string): string {
  const byLabel: Record<string, string> = {
    Glioma: "glioma",
    Meningioma: "meningioma",
    "No tumour": "notumor",
    Pituitary: "pituitary",
  };
  return byLabel[label] ?? label;
}
