import fs from "node:fs";
import { Page } from "@playwright/test";
import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { chartFile, dicomFile, DICOM_PATIENT, sliceFile } from "./images";
import { adminHeaders, getJson, retrainCounts, triggerRetrain, uploadSlices, waitForJob } from "./api";

/** How many sessions the Retrain page lists (`retrain_sessions(Some(10))` in pages/retrain.rs). */
const SESSIONS_LISTED = 10;

/** After one job ended: one more session and version, nothing pending, the newest session shown. */
async function expectPanelsAfterJob(page: Page, before: Awaited<ReturnType<typeof retrainCounts>>) {
  await expect(page.getByTestId("sessions-table").locator("tbody tr")).toHaveCount(
    Math.min(before.sessions + 1, SESSIONS_LISTED),
  );
  await expect(page.getByTestId("sessions-table").locator("tbody tr").first()).not.toContainText(
    /running|queued/,
  );
  await expect(page.getByTestId("models-table").locator("tbody tr")).toHaveCount(before.models + 1);
  await expect(page.getByTestId("stat-pending")).toHaveText("0");
}

test("predict one image and see its class and probability bars", async ({ page }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(sliceFile(1));
  await expect(page.locator(".preview img")).toHaveCount(1);
  await page.getByTestId("predict-submit").click();
  const result = page.getByTestId("prediction");
  await expect(result).toBeVisible();
  await expect(result.getByTestId("predicted-class")).toHaveText(
    /Glioma|Meningioma|No tumour|Pituitary/,
  );
  await expectDrawn(page, "probability-bars");
  const bars = result.locator(".bar");
  await expect(bars).toHaveCount(4);
  // The bars' percentages add up to 100.
  const values = await bars.locator(".bar-value").allTextContents();
  const total = values.map((v) => parseFloat(v)).reduce((a, b) => a + b, 0);
  expect(Math.abs(total - 100)).toBeLessThan(0.5);
  await page.screenshot({ path: test.info().outputPath("prediction.png"), fullPage: true });
});

test("a DICOM slice is read with its window and answered as the same slice exported as an image", async ({
  page,
  request,
}) => {
  // The same slice as a BMP: what the API answers for it is what the page must show for the DICOM.
  const plain = sliceFile(5);
  const response = await request.post("/predict", {
    multipart: { file: { name: plain.name, mimeType: plain.mimeType, buffer: plain.buffer } },
  });
  expect(response.ok(), await response.text()).toBeTruthy();
  const answer = await response.json();
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(dicomFile(5));
  // A browser cannot draw a DICOM file: the picker says what it is instead of a broken image.
  await expect(page.locator(".preview .dicom-badge")).toHaveText("DICOM");
  await page.getByTestId("predict-submit").click();
  const result = page.getByTestId("prediction");
  await expect(result).toBeVisible();
  const labels: Record<string, string> = {
    glioma: "Glioma",
    meningioma: "Meningioma",
    notumor: "No tumour",
    pituitary: "Pituitary",
  };
  await expect(result.getByTestId("predicted-class")).toHaveText(labels[answer.predicted_class]);
  const details = result.getByTestId("dicom-details");
  await expect(details).toContainText("MR");
  await expect(details).toContainText("PlaywrightScan");
  await expect(details).toContainText("1.5 T");
  await expect(details).toContainText("center 2040, width 4081 (from the file)");
  await expect(details).toContainText("Explicit VR Little Endian");
  await expect(result).not.toContainText(DICOM_PATIENT.name);
  await expect(result).not.toContainText(DICOM_PATIENT.id);
  await expect(page.getByTestId("heatmap")).toBeVisible();
});

test("the heatmap shows where the model looked, and its slider and switch change it", async ({ page }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(sliceFile(5));
  await page.getByTestId("predict-submit").click();
  const explanation = page.getByTestId("explanation");
  await expect(explanation).toBeVisible();
  await expect(explanation.locator("img")).toHaveAttribute("src", /^data:image\/png;base64,/);
  const canvas = explanation.getByTestId("heatmap-canvas");
  // Summed alpha of the heat layer, and how many of its pixels are tinted at all.
  const heat = () =>
    canvas.evaluate((c: HTMLCanvasElement) => {
      const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      let alpha = 0;
      let tinted = 0;
      for (let i = 3; i < data.length; i += 4) {
        alpha += data[i];
        if (data[i] > 0) tinted += 1;
      }
      return { alpha, tinted, red: data[0] };
    });
  await expect.poll(async () => (await heat()).tinted).toBeGreaterThan(0);
  // The colours are explained beside the picture.
  await expect(explanation.getByTestId("heat-scale")).toContainText("weighed most");
  const atDefault = await heat();
  await explanation.getByTestId("heatmap-opacity").fill("100");
  await expect.poll(async () => (await heat()).alpha).toBeGreaterThan(atDefault.alpha);
  await explanation.getByTestId("heatmap-opacity").fill("20");
  await expect.poll(async () => (await heat()).alpha).toBeLessThan(atDefault.alpha);
  await explanation.getByTestId("heatmap-toggle").uncheck();
  await expect.poll(async () => (await heat()).tinted).toBe(0);
  await explanation.getByTestId("heatmap-toggle").check();
  await expect.poll(async () => (await heat()).tinted).toBeGreaterThan(0);
});

test("a picture that is not an MRI slice is refused, not classified", async ({ page, consoleErrors }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(chartFile());
  await expect(page.locator(".preview img")).toHaveCount(1);
  await page.getByTestId("predict-submit").click();
  const refusal = page.getByTestId("predict-refused");
  await expect(refusal).toBeVisible();
  await expect(refusal).toContainText("Not a brain MRI slice");
  await expect(refusal).toContainText(/distance \d+\.\d+ · threshold \d+\.\d+/);
  await expect(page.getByTestId("prediction")).toHaveCount(0);
  // The browser logs the 422 it was answered; that one is expected, nothing else is.
  expect(consoleErrors).toEqual([expect.stringContaining("status of 422")]);
  consoleErrors.length = 0;

  // An annotator (this session is an admin) who knows better can have it classified anyway:
  // the answer says so and needs review.
  await page.getByTestId("override-refusal-submit").click();
  await expect(page.getByTestId("prediction")).toBeVisible();
  await expect(page.getByTestId("refusal-overridden")).toContainText("Classified on your word");
  await expect(page.getByTestId("needs-review")).toBeVisible();
  await expect(page.getByTestId("predict-refused")).toHaveCount(0);
});

test("an unsure answer is marked for review with the runner-up", async ({ page, request }) => {
  // What the API says about the same file decides what the page must show.
  const file = sliceFile(4);
  const response = await request.post("/predict", {
    multipart: { file: { name: file.name, mimeType: file.mimeType, buffer: file.buffer } },
  });
  expect(response.ok(), await response.text()).toBeTruthy();
  const answer = await response.json();
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(file);
  await page.getByTestId("predict-submit").click();
  await expect(page.getByTestId("prediction")).toBeVisible();
  const flag = page.getByTestId("needs-review");
  if (answer.needs_review) {
    const labels: Record<string, string> = {
      glioma: "Glioma",
      meningioma: "Meningioma",
      notumor: "No tumour",
      pituitary: "Pituitary",
    };
    await expect(flag).toContainText("Needs review");
    await expect(flag).toContainText(`runner-up is ${labels[answer.runner_up]}`);
  } else {
    await expect(flag).toHaveCount(0);
  }
});

test("batch results are a table to triage: sort, filter, details with a heatmap, CSV", async ({ page }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page
    .getByTestId("file-input")
    .setInputFiles([sliceFile(2, "b-slice.bmp"), chartFile("a-chart.bmp"), sliceFile(3, "c-slice.bmp")]);
  await expect(page.getByTestId("predict-submit")).toHaveText("Classify 3 images");
  await page.getByTestId("predict-submit").click();
  const table = page.getByTestId("batch-table");
  const rows = table.getByTestId("batch-row");
  await expect(rows).toHaveCount(3);
  await expect(page.getByTestId("batch-summary")).toContainText(
    "3 images: 2 answered (0 need review), 1 refused as not a brain MRI",
  );
  // One compact row each, with a thumbnail drawn from the picked file.
  await expect
    .poll(() => rows.first().locator("img.thumb").evaluate((img: HTMLImageElement) => img.naturalWidth))
    .toBeGreaterThan(0);
  const names = () => rows.locator(".filename").allTextContents();
  expect(await names()).toEqual(["b-slice.bmp", "a-chart.bmp", "c-slice.bmp"]);
  // The refused one first when the least sure are wanted, alone when refusals are asked for.
  await page.getByTestId("batch-order").selectOption("least");
  expect((await names())[0]).toBe("a-chart.bmp");
  await page.getByTestId("batch-filter").selectOption("unanswered");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("Not a brain MRI");
  await expect(page.getByTestId("batch-shown")).toHaveText("1 of 3 shown");
  await page.getByTestId("batch-filter").selectOption("notumor");
  await expect(rows).toHaveCount(2);
  // Details: the probabilities and where the model looked, in a panel that Escape closes.
  await rows.first().getByTestId("row-details").click();
  const detail = page.getByTestId("batch-detail");
  await expect(detail).toBeVisible();
  await expect(detail.getByTestId("probability-bars")).toBeVisible();
  await expect(detail.getByTestId("batch-detail-heatmap").locator("canvas")).toBeVisible();
  // The answer can be confirmed from the drawer, as a single prediction can.
  await detail.getByTestId("feedback-right").click();
  await expect(detail.getByTestId("feedback-result")).toContainText("is right");
  await page.keyboard.press("Escape");
  await expect(detail).toBeHidden();
  // The CSV download: a header and one row per file, the same as the REST export.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("batch-csv").click()]);
  expect(download.suggestedFilename()).toBe("predictions.csv");
  const csv = fs.readFileSync(await download.path(), "utf8").trim().split("\r\n");
  expect(csv).toHaveLength(4);
  expect(csv[0]).toMatch(/^filename,frame,status,predicted_class,confidence/);
  expect(csv[2]).toMatch(/^a-chart\.bmp,,refused,/);
});

test.describe("upload, then retrain", () => {
  test("upload labelled files, see per-file results and totals, and decide on the held ones", async ({ page }) => {
    await page.goto("/upload");
    await waitForHydration(page);
    const results = page.getByTestId("upload-results").locator("li");
    for (const [index, label] of ["glioma", "meningioma", "notumor", "pituitary"].entries()) {
      await page.getByTestId("class-select").selectOption(label);
      await page
        .getByTestId("file-input")
        .setInputFiles([sliceFile(10 + index * 2), sliceFile(11 + index * 2)]);
      await page.getByTestId("upload-submit").click();
      await expect(results).toHaveCount((index + 1) * 2);
    }
    // The shipped model reads the generated slices as no tumour (>90%, under 5% for each other
    // class): labelled so they are stored, labelled otherwise they are held for review.
    await expect(page.getByTestId("total-stored")).toHaveText("2");
    await expect(page.getByTestId("total-held")).toHaveText("6");
    // Beside this visit's counters, the database's totals, the same as /database/stats says.
    const stats = await (await page.request.get("/database/stats")).json();
    await expect(page.getByTestId("upload-db-totals")).toContainText(
      `In the database: ${stats.total_uploaded_images} uploads, ${stats.pending_images} waiting for retraining, ${stats.held_for_review} held for review`,
    );
    // The same bytes again are recognised, not stored twice.
    await page.getByTestId("file-input").setInputFiles([sliceFile(10)]);
    await page.getByTestId("upload-submit").click();
    await expect(page.getByTestId("total-duplicates")).toHaveText("1");
    await expect(results).toHaveCount(9);

    const heldIds = await results
      .and(page.locator('[data-outcome="held for review"]'))
      .evaluateAll((items) => items.map((item) => item.getAttribute("data-upload-id")));
    expect(heldIds).toHaveLength(6);
    const queue = page.getByTestId("review-queue");
    const item = (id: string | null) => queue.locator(`[data-upload-id="${id}"]`);
    for (const id of heldIds) {
      await expect(item(id)).toContainText("The model reads No tumour");
    }
    // Images load lazily, once scrolled to.
    await item(heldIds[0]).locator("img").scrollIntoViewIfNeeded();
    await expect
      .poll(() => item(heldIds[0]).locator("img").evaluate((img: HTMLImageElement) => img.naturalWidth))
      .toBe(256);
    // Keep two labels, relabel three as the model reads them, discard one.
    for (const id of heldIds.slice(0, 2)) {
      await item(id).getByTestId("review-confirm").click();
      await expect(item(id)).toHaveCount(0);
    }
    for (const id of heldIds.slice(2, 5)) {
      await expect(item(id).getByTestId("review-relabel-class")).toHaveValue("notumor");
      await item(id).getByTestId("review-relabel").click();
      await expect(item(id)).toHaveCount(0);
    }
    await item(heldIds[5]).getByTestId("review-discard").click();
    await expect(item(heldIds[5])).toHaveCount(0);
  });

  test("trigger a retrain and watch it finish without reloading", async ({ page, request }) => {
    test.setTimeout(180_000);
    await uploadSlices(request, "glioma", [310, 311, 312, 313]);
    const before = await retrainCounts(request);
    expect(before.pending).toBeGreaterThanOrEqual(4);
    await page.goto("/retrain");
    await waitForHydration(page);
    await expect(page.getByTestId("stat-pending")).toHaveText(String(before.pending));
    // Before the click: no training folders and no reference set here, so the page says the result
    // will stay a candidate, and links to where a reference set is uploaded.
    const outlook = page.getByTestId("retrain-outlook");
    await expect(outlook).toContainText("will be kept as a candidate, not activated");
    await expect(outlook.getByTestId("reference-upload-link")).toHaveAttribute("href", "/upload?purpose=reference");
    await page.getByTestId("epochs").fill("1");
    await page.getByTestId("fine-tune-epochs").fill("0");
    await page.getByTestId("trigger-retrain").click();
    await expect(page.getByTestId("trigger-result")).toContainText("started");
    await expect(page.getByTestId("job-state")).toContainText(/completed|rejected/, {
      timeout: 150_000,
    });
    await expectPanelsAfterJob(page, before);
    // The ending in fields, not a paragraph of command-line advice.
    const outcome = page.getByTestId("job-outcome");
    await expect(outcome.getByTestId("outcome-headline")).toContainText("kept as a candidate, not activated");
    await expect(outcome.getByTestId("outcome-reason")).toContainText("uploads cannot vouch for themselves");
    await expect(outcome).not.toContainText("--data-dir");
    // Its link opens the Upload page with the reference set chosen.
    await outcome.getByRole("link", { name: "Upload reference images" }).click();
    await expect(page).toHaveURL(/\/upload\?purpose=reference$/);
    await waitForHydration(page);
    await expect(page.getByTestId("reference-set")).toBeChecked();
  });

  test("an admin cancels a running job from the page", async ({ page, request }) => {
    test.setTimeout(180_000);
    await uploadSlices(request, "glioma", [330, 331, 332, 333, 334, 335]);
    await page.goto("/retrain");
    await waitForHydration(page);
    const session = await triggerRetrain(request, 50, 0);
    const cancel = page.getByTestId("cancel-retrain");
    await expect(cancel).toBeVisible({ timeout: 30_000 });
    await cancel.click();
    await expect(page.getByTestId("outcome-headline")).toHaveText("Cancelled by admin", { timeout: 60_000 });
    await expect(page.getByTestId("job-state")).toContainText("failed");
    await expect(page.getByTestId("sessions-table").locator("tbody tr").first()).toContainText(
      "Cancelled by admin",
    );
    const ended = await getJson(request, "/retrain/status");
    expect(ended.session.id).toBe(session);
    expect(ended.session.outcome.kind).toBe("cancelled");
    // Nothing was kept, and its uploads still wait for the next run.
    expect((await retrainCounts(request)).pending).toBeGreaterThanOrEqual(6);
  });

  test("a job that ends before the page's first status poll still refreshes every panel", async ({
    page,
    request,
  }) => {
    test.setTimeout(180_000);
    await uploadSlices(request, "meningioma", [300, 301, 302, 303]);
    const before = await retrainCounts(request);
    // Hold every status poll of the page until the job has ended: the page never sees it running.
    let releasePolls = () => {};
    const jobEnded = new Promise<void>((resolve) => (releasePolls = resolve));
    await page.route(
      (url) => url.pathname === "/retrain/status",
      async (route) => {
        await jobEnded;
        await route.continue();
      },
    );
    await page.goto("/retrain");
    await waitForHydration(page);
    await expect(page.getByTestId("stat-pending")).toHaveText(String(before.pending));
    const session = await triggerRetrain(request);
    const finalStatus = await waitForJob(request, session);
    releasePolls();
    await expect(page.getByTestId("job-state")).toContainText(finalStatus);
    await expectPanelsAfterJob(page, before);
    await expect(page.getByTestId("sessions-table").locator("tbody tr").first()).toContainText(
      finalStatus,
    );
    await page.unrouteAll({ behavior: "ignoreErrors" });
  });

  test("activate another model version from the versions table", async ({ page, request }) => {
    test.setTimeout(180_000);
    // A version of this test's own: retrained without the training data or a reference set, the
    // gate rejects it, so serving it anyway asks for a reason.
    const serving = (await getJson(request, "/models")).active_version as string;
    await uploadSlices(request, "pituitary", [320, 321, 322, 323]);
    const session = await triggerRetrain(request);
    expect(await waitForJob(request, session)).toBe("rejected");
    const version = (await getJson(request, "/retrain/status")).session.model_version as string;
    expect(version).toMatch(new RegExp(`-s${session}$`));
    await page.goto("/retrain");
    await waitForHydration(page);
    // Exactly one row serves; the others offer activation.
    await expect(page.getByTestId("models-table").locator("tr.serving")).toHaveCount(1);
    const candidate = page.getByTestId("models-table").locator(`tbody tr[data-version="${version}"]`);
    // Every figure says which images it comes from; the shipped model's from the original split.
    await expect(page.getByTestId("models-table").locator("tr.serving [data-testid=measured-on]")).toContainText(
      "images of the original validation split",
    );
    await expect(candidate.getByTestId("measured-on")).toContainText(/\d+ images? of the (held-out|training) uploads/);
    // Scored together with its parent (the serving model) on the same few uploads during its
    // retraining: comparable, with an interval that so few images leave wide.
    await expect(candidate.getByTestId("versus-serving")).toHaveText(/^[+-]\d+\.\d pts \([+-]\d+\.\d to [+-]\d+\.\d\)$/);
    await candidate.getByTestId("compare-version").click();
    const comparison = page.getByTestId("version-comparison");
    await expect(comparison.getByTestId("comparison-explanation")).toContainText(
      "during the retraining that made the newer one",
    );
    await expect(comparison.getByTestId("comparison-recall").locator("tbody tr")).toHaveCount(4);
    // Activation asks first: what changes, the gate's verdict, and a reason before it may go on.
    await candidate.getByRole("button", { name: "Force activate…" }).click();
    const dialog = page.getByTestId("activation-dialog");
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole("heading")).toHaveText(`Serve ${version} instead of ${serving}?`);
    await expect(dialog.getByTestId("gate-verdict")).toContainText("kept as a candidate");
    await expect(dialog.getByTestId("comparison-explanation")).toContainText("Both scored on the same");
    // Escape cancels without a change.
    await page.keyboard.press("Escape");
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("models-table").locator("tr.serving td").first()).toHaveText(serving);
    await candidate.getByRole("button", { name: "Force activate…" }).click();
    await expect(dialog.getByTestId("activation-confirm")).toBeDisabled();
    await dialog.getByTestId("activation-reason").fill("checked by the end-to-end test");
    await dialog.getByTestId("activation-confirm").click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("models-table").locator("tr.serving td").first()).toHaveText(
      version,
    );
    // The next prediction is answered by the activated version.
    const response = await request.post("/predict", { multipart: { file: sliceFile(324) } });
    expect(response.ok(), await response.text()).toBeTruthy();
    expect((await response.json()).model_version).toBe(version);
    // Back to the model the other specs expect, whatever order they run in.
    const restored = await request.post(`/models/${serving}/activate`, { headers: adminHeaders() });
    expect(restored.ok(), await restored.text()).toBeTruthy();
    expect((await getJson(request, "/models")).active_version).toBe(serving);
  });
});

test("the monitor page updates live after a prediction", async ({ page, request }) => {
  await page.goto("/monitor");
  await waitForHydration(page);
  const predictions = page.getByTestId("metric-predictions");
  await expect(predictions).toHaveText(/\d+/);
  const before = Number(await predictions.textContent());
  const response = await request.post("/predict", {
    multipart: { file: sliceFile(77) },
  });
  expect(response.ok()).toBeTruthy();
  // The page polls /metrics every 2 s: no reload needed.
  await expect.poll(async () => Number(await predictions.textContent()), { timeout: 10_000 }).toBe(before + 1);
  await expect(page.getByTestId("metric-latency")).toContainText("ms");
  await expect(page.getByTestId("metric-memory")).toContainText("MB");
  await expectDrawn(page, "chart-predictions-per-minute");
  await page.screenshot({ path: test.info().outputPath("monitor.png"), fullPage: true });
});

test("the monitor page draws rates and latency over 1 hour, 24 hours and 7 days", async ({ page, request }) => {
  const response = await request.post("/predict", { multipart: { file: sliceFile(78) } });
  expect(response.ok()).toBeTruthy();
  await page.goto("/monitor");
  await waitForHydration(page);
  const summary = page.getByTestId("history-summary");
  await expect(summary).toContainText(/[1-9]\d* images classified in this window \(1 minute per point\)/);
  await expectDrawn(page, "traffic-history", 0);
  await expectDrawn(page, "traffic-history", 1);
  await page.getByTestId("history-window").selectOption("24h");
  await expect(summary).toContainText("(15 minutes per point)");
  await page.getByTestId("history-window").selectOption("7d");
  await expect(summary).toContainText("(120 minutes per point)");
  await expectDrawn(page, "traffic-history", 1);
});
