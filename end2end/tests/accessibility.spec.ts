import AxeBuilder from "@axe-core/playwright";
import { Page } from "@playwright/test";
import { test, expect, waitForHydration } from "./fixtures";
import { sliceFile } from "./images";

/**
 * WCAG 2.1 A and AA, checked by axe-core on every page as the admin sees it (so every control is
 * there), at desktop and phone sizes, and on the login page as a stranger sees it: no serious or
 * critical violation anywhere.
 */
const PAGES = ["/", "/predict", "/series", "/studies", "/upload", "/data", "/retrain", "/model", "/insights", "/monitor", "/users"];

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"])
    .analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} — ` +
        violation.nodes
          .slice(0, 3)
          .map((node) => node.target.join(" "))
          .join(" | "),
    );
}

for (const path of PAGES) {
  test(`${path} has no serious accessibility violation @phone`, async ({ page }) => {
    await page.goto(path);
    await waitForHydration(page);
    await page.waitForLoadState("networkidle");
    expect(await seriousViolations(page)).toEqual([]);
  });
}

test("the login page, as a stranger, has no serious accessibility violation @phone", async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/login");
  await waitForHydration(page);
  expect(await seriousViolations(page)).toEqual([]);
  await context.close();
});

test("a prediction's result is announced and its page stays accessible", async ({ page }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles(sliceFile(5));
  await page.getByTestId("predict-submit").click();
  await expect(page.getByTestId("prediction")).toBeVisible();
  // The answer lands in a live region and takes the focus, so a screen reader reads it out.
  await expect(page.getByTestId("predict-result-region")).toHaveAttribute("aria-live", "polite");
  await expect(page.getByTestId("predict-result-region")).toBeFocused();
  expect(await seriousViolations(page)).toEqual([]);
});

test("a skip link takes the keyboard past the menu to the page", async ({ page }) => {
  await page.goto("/predict");
  await waitForHydration(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press("Enter");
  // The next Tab reaches the page's first control, not the menu.
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.closest("main") !== null);
  expect(focused).toBe(true);
});
