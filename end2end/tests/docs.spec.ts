import { test, expect } from "./fixtures";

test("interactive API docs list every endpoint, loaded only from this server", async ({ page, baseURL }) => {
  const foreign: string[] = [];
  page.on("request", (request) => {
    if (!request.url().startsWith(baseURL!) && !request.url().startsWith("data:")) foreign.push(request.url());
  });
  const document = await (await page.request.get("/openapi.json")).json();
  await page.goto("/docs");
  await expect(page.locator(".swagger-ui .info .title")).toContainText("BrainScan MRI API");
  const operations = page.locator(".opblock");
  let expected = 0;
  for (const item of Object.values(document.paths) as object[]) expected += Object.keys(item).length;
  await expect(operations).toHaveCount(expected);
  for (const path of ["/predict", "/predict/batch", "/retrain", "/retrain/trigger", "/metrics", "/docs"]) {
    await expect(page.locator(".opblock-summary-path", { hasText: new RegExp(`^${path}$`) }).first()).toBeVisible();
  }
  // Opening an operation shows its request body and the shared error shape.
  await page.locator(".opblock-summary-path", { hasText: /^\/predict$/ }).click();
  await expect(page.locator(".opblock-body").first()).toContainText("multipart/form-data");
  await page.screenshot({ path: test.info().outputPath("docs.png"), fullPage: false });
  expect(foreign, "requests to other hosts").toEqual([]);
});
