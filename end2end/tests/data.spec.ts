import { test, expect, waitForHydration } from "./fixtures";
import { uploadSlices } from "./api";

test("the Data page browses uploads, zooms, relabels and deletes one", async ({ page, request }) => {
  // Labelled as the model reads them (no tumour), so they are stored, not held.
  await uploadSlices(request, "notumor", [600, 601, 602]);
  await page.goto("/data");
  await waitForHydration(page);
  await page.getByTestId("data-status").selectOption("pending");
  await page.getByTestId("data-class").selectOption("notumor");
  const rows = page.getByTestId("data-row");
  await expect(page.getByTestId("data-summary")).toContainText(/^\d+ uploads? match/);
  const newest = rows.filter({ hasText: "-602.bmp" }).first();
  await expect(newest).toBeVisible();
  await expect(newest.getByTestId("data-status-badge")).toHaveText("Waiting for retraining");

  // Zoom: the stored image at full size, Escape closes it.
  await newest.getByRole("button", { name: /Zoom into/ }).click();
  const zoom = page.getByTestId("data-zoom");
  await expect(zoom).toBeVisible();
  await expect.poll(() => zoom.locator("img.zoomed").evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(256);
  await page.keyboard.press("Escape");
  await expect(zoom).toBeHidden();

  // Relabel: the row leaves the "no tumour" filter and shows up under its new class.
  await newest.getByTestId("data-relabel").selectOption("pituitary");
  await expect(rows.filter({ hasText: "-602.bmp" })).toHaveCount(0);
  await page.getByTestId("data-class").selectOption("pituitary");
  await expect(rows.filter({ hasText: "-602.bmp" }).getByTestId("data-relabel")).toHaveValue("pituitary");

  // Delete asks first, then the upload is out of training and shown as deleted.
  const next = rows.filter({ hasText: "-602.bmp" }).first();
  await next.getByTestId("data-delete").click();
  await next.getByTestId("data-delete-confirm").click();
  await page.getByTestId("data-status").selectOption("discarded");
  const deleted = rows.filter({ hasText: "-602.bmp" }).first();
  await expect(deleted.getByTestId("data-status-badge")).toHaveText("Deleted or discarded");
  await expect(deleted.getByTestId("data-delete")).toHaveCount(0);
});
