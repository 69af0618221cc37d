import { test, expect, waitForHydration } from "./fixtures";

const pages = [
  { link: "Predict", path: "/predict", heading: "Predict" },
  { link: "Series", path: "/series", heading: "Series" },
  { link: "Studies", path: "/studies", heading: "Studies" },
  { link: "Insights", path: "/insights", heading: "Insights" },
  { link: "Model", path: "/model", heading: "Model" },
  { link: "Upload", path: "/upload", heading: "Upload" },
  { link: "Retrain", path: "/retrain", heading: "Retrain" },
  { link: "Monitor", path: "/monitor", heading: "Monitor" },
  { link: "Home", path: "/", heading: "Home" },
];

test("home page renders on the server with live status", async ({ page }) => {
  // With JavaScript off only server-side rendering can have produced the content.
  const context = await page.context().browser()!.newContext({ javaScriptEnabled: false });
  const ssrPage = await context.newPage();
  await ssrPage.goto("/");
  await expect(ssrPage.getByRole("heading", { level: 1 })).toHaveText("Home");
  await expect(ssrPage.getByTestId("health")).toContainText("Healthy");
  await context.close();

  await page.goto("/");
  await expect(page).toHaveTitle("Home · BrainScan MRI");
  await expect(page.getByTestId("uptime")).toBeVisible();
});

test("hydration makes the status refresh button work", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const total = page.getByTestId("total-requests");
  const before = Number(await total.textContent());
  await page.getByTestId("refresh-status").click();
  // The refresh is a server-function call, itself a request, so the count must grow.
  await expect.poll(async () => Number(await total.textContent())).toBeGreaterThan(before);
});

test("sidebar navigation is client-side and reaches every page", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  // A full page load would wipe this marker; client-side routing keeps it.
  await page.evaluate(() => ((window as any).__noReload = true));
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const target of pages) {
    await nav.getByRole("link", { name: target.link }).click();
    await expect(page).toHaveURL(target.path);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(target.heading);
    await expect(nav.getByRole("link", { name: target.link })).toHaveAttribute("aria-current", "page");
    expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  }
});

test("a screenshot of every page, on a desktop and on a phone @phone", async ({ page }, info) => {
  for (const target of pages) {
    await page.goto(target.path);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(target.heading);
    // Charts draw after hydration and data loading; wait until every canvas on the page has ink.
    const canvases = page.locator("canvas");
    for (let i = 0; i < (await canvases.count()); i++) {
      await expect
        .poll(() =>
          canvases.nth(i).evaluate((canvas: HTMLCanvasElement) => {
            const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
            return data.some((value, index) => index % 4 !== 3 && value < 235);
          }),
        )
        .toBe(true);
    }
    const name = target.path === "/" ? "home" : target.path.slice(1);
    await page.screenshot({ path: info.outputPath(`${info.project.name}-${name}.png`), fullPage: true });
  }
});

test("every page loads directly, hydrates without a page error and has its own title", async ({
  page,
  consoleErrors,
}) => {
  for (const target of pages) {
    await page.goto(target.path);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(target.heading);
    await expect(page).toHaveTitle(`${target.heading} · BrainScan MRI`);
    // A bundle that fails to start (e.g. a broken wasm-opt pass) throws here and never hydrates.
    await waitForHydration(page);
    expect(consoleErrors, `${target.path} logged errors`).toEqual([]);
  }
});

test("unknown addresses show a not-found page with status 404", async ({ page, consoleErrors }) => {
  const response = await page.goto("/definitely-not-here");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await waitForHydration(page);
  await page.getByRole("link", { name: "Back to the home page" }).click();
  await expect(page).toHaveURL("/");
  // Chromium logs the 404 document itself as a failed resource; that one is expected, nothing else.
  const expected = consoleErrors.filter((message) => message.includes("status of 404"));
  expect(expected).toHaveLength(1);
  consoleErrors.splice(consoleErrors.indexOf(expected[0]), 1);
});

test("phone layout hides the menu until it is opened @phone", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const nav = page.getByRole("navigation", { name: "Main" });
  const toggle = page.getByRole("button", { name: "Toggle navigation" });
  const viewport = page.viewportSize()!;
  if (viewport.width > 760) {
    await expect(toggle).toBeHidden();
    await expect(nav).toBeVisible();
    return;
  }
  await expect(nav).toBeHidden();
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await nav.getByRole("link", { name: "Monitor" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Monitor");
  await expect(nav).toBeHidden();
});
