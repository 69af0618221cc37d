import { test, expect, expectDrawn, waitForHydration } from "./fixtures";

test("insights charts are drawn in the browser with readable explanations", async ({ page }) => {
  await page.goto("/insights");
  await waitForHydration(page);
  const charts = ["chart-classes", "chart-mean-intensity", "chart-std-intensity", "chart-gradient"];
  for (const chart of charts) {
    await expect(page.getByTestId(chart).locator("canvas")).toBeVisible();
    await expectDrawn(page, chart);
    await expect(page.getByTestId(chart).locator(".interpretation")).not.toBeEmpty();
  }
  await expect(page.getByTestId("chart-classes")).toContainText("5712 training images");
  await page.screenshot({ path: test.info().outputPath("insights.png"), fullPage: true });
});

test("insights charts fit a phone screen @phone", async ({ page }) => {
  await page.goto("/insights");
  await waitForHydration(page);
  const canvas = page.getByTestId("chart-gradient").locator("canvas");
  await expectDrawn(page, "chart-gradient");
  const box = await canvas.boundingBox();
  const viewport = page.viewportSize()!;
  expect(box!.width).toBeLessThanOrEqual(viewport.width);
});
