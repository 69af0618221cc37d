import { test, expect, waitForHydration } from "./fixtures";

/**
 * Every page fits the phone it is opened on: nothing is wider than the screen (the page never
 * scrolls sideways; wide tables scroll inside their own box), and page titles sit on the light
 * content background, not on the sidebar's navy. Runs as the admin, so every page shows all it can.
 */
const PAGES = ["/", "/predict", "/upload", "/data", "/retrain", "/model", "/insights", "/monitor", "/users"];

for (const path of PAGES) {
  test(`${path} fits a phone screen @phone`, async ({ page }) => {
    await page.goto(path);
    await waitForHydration(page);
    // Data-driven parts (tables, charts) arrive after hydration.
    await page.waitForLoadState("networkidle");
    const { viewport, widest, culprits } = await page.evaluate(() => {
      const viewport = document.documentElement.clientWidth;
      // The innermost elements that reach past the screen's right edge, for the failure message.
      const culprits = Array.from(document.querySelectorAll("main *"))
        .filter((element) => element.getBoundingClientRect().right > viewport + 1)
        .filter((element) => !Array.from(element.children).some((child) => child.getBoundingClientRect().right > viewport + 1))
        .slice(0, 5)
        .map((element) => `<${element.tagName.toLowerCase()} class="${element.className}"> ${Math.round(element.getBoundingClientRect().width)} px`);
      return { viewport, widest: document.documentElement.scrollWidth, culprits };
    });
    expect(widest, `${path} is ${widest} px wide on a ${viewport} px screen: ${culprits.join(", ")}`).toBeLessThanOrEqual(viewport);
  });
}

for (const width of [390, 800]) {
  test(`page titles are dark on light at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    await page.goto("/retrain");
    await waitForHydration(page);
    const title = page.getByRole("heading", { level: 1 });
    const seen = await title.evaluate((element) => {
      const left = element.getBoundingClientRect().left;
      let colour = getComputedStyle(document.body).backgroundColor;
      let stripeEnd = 0;
      for (let node = element.parentElement; node; node = node.parentElement) {
        const style = getComputedStyle(node);
        // The layout paints the sidebar's column as a stripe from its left edge.
        const stripe = style.backgroundImage.match(/(\d+)px/);
        if (style.backgroundImage !== "none" && stripe) stripeEnd = Math.max(stripeEnd, Number(stripe[1]));
        if (style.backgroundColor !== "rgba(0, 0, 0, 0)") {
          colour = style.backgroundColor;
          break;
        }
      }
      return { left, colour, stripeEnd };
    });
    expect(seen.left, `the title starts inside the ${seen.stripeEnd} px sidebar stripe`).toBeGreaterThanOrEqual(seen.stripeEnd);
    const [r, g, b] = seen.colour.match(/\d+/g)!.map(Number);
    expect(r + g + b, `the title is over ${seen.colour}`).toBeGreaterThan(600);
  });
}
