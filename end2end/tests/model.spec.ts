import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { adminHeaders, triggerRetrain, uploadSlices, waitForJob } from "./api";

test("the model page shows the serving model's scores and training curves", async ({ page, request }) => {
  const report = await (await request.get("/models/active/report")).json();
  await page.goto("/model");
  await waitForHydration(page);
  await expect(page.getByTestId("model-version")).toHaveText(report.version);
  await expect(page.getByTestId("model-accuracy")).toHaveText(`${(report.accuracy * 100).toFixed(2)}%`);
  // The figure names the images it was measured on.
  await expect(page.getByTestId("model-accuracy-card")).toContainText(
    `on ${report.evaluated_on.images} images of the original validation split`,
  );
  for (const chart of ["chart-confusion", "chart-class-scores"]) {
    await expectDrawn(page, chart);
    await expect(page.getByTestId(chart).locator(".interpretation")).not.toBeEmpty();
  }
  await expect(page.getByTestId("class-scores").locator("tbody tr")).toHaveCount(4);
  // The reliability diagram and the trust figures come from the model's trust check.
  expect(report.trust, "the shipped model has a trust check").toBeTruthy();
  await expectDrawn(page, "chart-reliability");
  await expect(page.getByTestId("trust-summary")).toContainText(
    `${report.trust.ece_uncalibrated.toFixed(3)} before temperature calibration, ${report.trust.ece_calibrated.toFixed(3)}`,
  );
  // One option per recorded training run; loss and accuracy are both drawn for the chosen one.
  const select = page.getByTestId("curve-select");
  await expect(select.locator("option")).toHaveCount(report.curves.length);
  await expectDrawn(page, "chart-training", 0);
  await expectDrawn(page, "chart-training", 1);
  await expect(page.getByTestId("chart-training").locator(".interpretation")).toContainText("epoch");
});

test("choosing another training run redraws the curves", async ({ page, request }) => {
  test.setTimeout(180_000);
  // A retraining session of this test's own, then the shipped model served again: its own 20-epoch
  // training and that session are two different runs, whichever specs ran before.
  await uploadSlices(request, "pituitary", [400, 401, 402, 403]);
  await waitForJob(request, await triggerRetrain(request));
  const { models } = await (await request.get("/models")).json();
  const shipped = models.find((m: { parent_version: string | null }) => m.parent_version === null);
  const activated = await request.post(`/models/${shipped.version}/activate`, { headers: adminHeaders() });
  expect(activated.ok(), await activated.text()).toBeTruthy();
  const report = await (await request.get("/models/active/report")).json();
  expect(report.curves.length, "the retraining session adds a curve").toBeGreaterThanOrEqual(2);
  await page.goto("/model");
  await waitForHydration(page);
  const accuracy = page.getByTestId("chart-training").locator("canvas").nth(1);
  await expectDrawn(page, "chart-training", 1);
  const before = await accuracy.evaluate((c: HTMLCanvasElement) => c.toDataURL());
  const text = page.getByTestId("chart-training").locator(".interpretation");
  const textBefore = await text.textContent();
  await page.getByTestId("curve-select").selectOption("1");
  await expect
    .poll(() => accuracy.evaluate((c: HTMLCanvasElement) => c.toDataURL()))
    .not.toBe(before);
  await expect(text).not.toHaveText(textBefore!);
});
