import { test, expect, expectDrawn, waitForHydration } from "./fixtures";
import { sliceFile } from "./images";

/**
 * The generated phantoms are 256 px squares drawn without a scanner's noise; nearly every slice of
 * the shipped model's validation split is 512 px or more. After a window of them (DRIFT_WINDOW=30 in
 * playwright.config.ts) the Monitor page raises its banner and draws each signal against the
 * validation split.
 */
test("the monitor page shows a banner and a chart per signal when the inputs drift @phone", async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  for (let variant = 700; variant < 730; variant++) {
    const response = await request.post("/predict", { multipart: { file: sliceFile(variant) } });
    expect(response.ok(), await response.text()).toBeTruthy();
  }
  const report = await (await request.get("/metrics/drift")).json();
  expect(report.status).toBe("drifting");

  await page.goto("/monitor");
  await waitForHydration(page);
  const banner = page.getByTestId("drift-banner");
  await expect(banner).toBeVisible();
  await expect(banner).toContainText("size (PSI");
  await expect(banner).toHaveAttribute("role", "alert");
  await expect(page.getByTestId("drift-status")).toHaveAttribute("data-status", "drifting");
  for (const signal of ["not_mri_distance", "top_probability", "class_mix", "mean_intensity", "contrast", "size"]) {
    await expect(page.getByTestId(`drift-${signal}`)).toContainText("PSI");
    await expectDrawn(page, `drift-${signal}`);
  }
  await expect(page.getByTestId("drift-size")).toHaveClass(/drifting/);
  await expect(page.getByTestId("drift-class_mix")).not.toContainText("KS");
  // The banner's way on is reachable from the keyboard.
  const link = banner.getByRole("link", { name: "Open the review queue" });
  await link.focus();
  await expect(link).toBeFocused();
  // Nothing on the page is wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: test.info().outputPath("monitor-drift.png"), fullPage: true });
});
