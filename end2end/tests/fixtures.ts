import { test as base, expect, Page } from "@playwright/test";

/** Fails the test if the page logs a console error or throws, after the test body has run. */
export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
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
