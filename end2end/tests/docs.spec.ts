import { readFileSync } from "node:fs";
import { test, expect } from "./fixtures";
import { TOKEN_FILE } from "./accounts";
import { uploadSlices, waitForJob } from "./api";

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

test.describe("a stranger with an API token", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("authorizes in the docs and triggers a retraining from them", async ({ page, request }) => {
    test.setTimeout(120_000);
    await uploadSlices(request, "notumor", [340, 341, 342]);
    const token = readFileSync(TOKEN_FILE, "utf8").trim();
    await page.goto("/docs");
    await expect(page.locator(".swagger-ui .info .title")).toContainText("BrainScan MRI API");
    // Protected operations show a lock; Authorize takes the bearer token once for all of them.
    const trigger = page.locator(".opblock", { has: page.locator(".opblock-summary-path", { hasText: /^\/retrain\/trigger$/ }) });
    await expect(trigger.locator(".authorization__btn")).toBeVisible();
    await page.locator(".auth-wrapper .authorize").click();
    const dialog = page.locator(".dialog-ux");
    await dialog.locator("input[type=text]").first().fill(token);
    await dialog.locator(".auth-btn-wrapper button.authorize").first().click();
    await expect(dialog.locator(".auth-btn-wrapper").first()).toContainText("Logout");
    await dialog.locator("button.close-modal").click();
    await trigger.locator(".opblock-summary").click();
    const body = trigger.locator("textarea.body-param__text");
    await body.fill('{"epochs": 1, "fine_tune_epochs": 0}');
    await trigger.getByRole("button", { name: "Execute" }).click();
    // Sent with the token: accepted (202), not 401.
    await expect(trigger.locator(".live-responses-table tbody .response-col_status").first()).toHaveText("202", { timeout: 30_000 });
    const session = Number(JSON.parse((await trigger.locator(".live-responses-table tbody .microlight").first().textContent()) ?? "{}").session_id);
    expect(session).toBeGreaterThan(0);
    await waitForJob(request, session);
  });
});
