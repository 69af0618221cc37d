import { test, expect, waitForHydration } from "./fixtures";

/** Share of a canvas's pixels that are not white: 0 for a blank canvas. */
async function inkShare(page: import("@playwright/test").Page, testId: string) {
  return page.getByTestId(testId).locator("canvas").evaluate((canvas: HTMLCanvasElement) => {
    const context = canvas.getContext("2d")!;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) ink++;
    }
    return ink / (data.length / 4);
  });
}

test("insights charts are drawn in the browser with readable explanations", async ({ page }) => {
  await page.goto("/insights");
  await waitForHydration(page);
  const charts = ["chart-classes", "chart-mean-intensity", "chart-std-intensity", "chart-gradient"];
  for (const chart of charts) {
    await expect(page.getByTestId(chart).locator("canvas")).toBeVisible();
    await expect.poll(() => inkShare(page, chart), { message: `${chart} is drawn` }).toBeGreaterThan(0.02);
    await expect(page.getByTestId(chart).locator(".interpretation")).not.toBeEmpty();
  }
  await expect(page.getByTestId("chart-classes")).toContainText("5712 training images");
  await page.screenshot({ path: test.info().outputPath("insights.png"), fullPage: true });
});

test("insights charts fit a phone screen @phone", async ({ page }) => {
  await page.goto("/insights");
  await waitForHydration(page);
  const canvas = page.getByTestId("chart-gradient").locator("canvas");
  await expect.poll(() => inkShare(page, "chart-gradient")).toBeGreaterThan(0.02);
  const box = await canvas.boundingBox();
  const viewport = page.viewportSize()!;
  expect(box!.width).toBeLessThanOrEqual(viewport.width);
});
