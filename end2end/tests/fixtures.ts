import { test as base, expect, Page } from "@playwright/test";

/**
 * Fails the test if the page logs a console error, a hydration warning (Leptos warns when the
 * browser's first render may differ from the server's) or throws, after the test body has run.
 */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
        if (message.type() === "warning" && /hydrat/i.test(message.text())) errors.push(message.text());
      });
      page.on("pageerror", (error) => errors.push(error.message));
      await use(errors);
      expect(errors, "console errors").toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Waits until the WASM bundle has hydrated the server-rendered page. */
export async function waitForHydration(page: Page) {
  await expect(page.locator(".layout")).toHaveAttribute("data-hydrated", "true");
}

/** Share of a canvas's pixels that are not white under `testId`: 0 for a blank canvas. */
export async function inkShare(page: Page, testId: string, nth = 0) {
  return page
    .getByTestId(testId)
    .locator("canvas")
    .nth(nth)
    .evaluate((canvas: HTMLCanvasElement) => {
      const context = canvas.getContext("2d")!;
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] < 235 || data[i + 1] < 235 || data[i + 2] < 235) ink++;
      }
      return ink / (data.length / 4);
    });
}

/** Waits until the canvas under `testId` has been drawn on. */
export async function expectDrawn(page: Page, testId: string, nth = 0) {
  await expect
    .poll(() => inkShare(page, testId, nth), { message: `${testId} canvas ${nth} is drawn` })
    .toBeGreaterThan(0.02);
}
