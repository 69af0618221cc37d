import { test, expect, waitForHydration } from "./fixtures";
import { adminHeaders } from "./api";

test.describe("without a session", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a visitor reads and predicts but is offered no upload, retrain or admin controls", async ({ page }) => {
    await page.goto("/upload");
    await waitForHydration(page);
    await expect(page.getByTestId("role-notice")).toContainText("annotator");
    await expect(page.getByTestId("upload-form")).toBeHidden();
    await expect(page.getByTestId("review-queue")).toHaveCount(0);
    // The way in leads back here afterwards.
    await expect(page.getByTestId("login-link")).toHaveAttribute("href", "/login?next=/upload");
    await page.goto("/retrain");
    await waitForHydration(page);
    await expect(page.getByTestId("models-table")).toBeVisible();
    await expect(page.getByTestId("trigger-retrain")).toHaveCount(0);
    await expect(page.getByTestId("models-table").getByRole("button")).toHaveCount(0);
    await page.goto("/predict");
    await waitForHydration(page);
    await expect(page.getByTestId("role-notice")).toHaveCount(0);
  });

  test("a viewer logs in, sees only what the role allows, and logs out", async ({ page, request, consoleErrors }) => {
    const username = `viewer-${Date.now()}`;
    const password = "viewer-password-1";
    const created = await request.post("/auth/users/add", {
      data: { username, password, role: "viewer" },
      headers: adminHeaders(),
    });
    expect(created.ok(), await created.text()).toBeTruthy();

    await page.goto("/login?next=/upload");
    await waitForHydration(page);
    await page.getByTestId("login-username").fill(username);
    await page.getByTestId("login-password").fill("not the password");
    await page.getByTestId("login-submit").click();
    await expect(page.getByTestId("login-error")).toContainText("wrong user name or password");
    // The browser logs the refused login's 401 itself; that one error is expected, nothing else.
    expect(consoleErrors).toEqual([expect.stringContaining("status of 401")]);
    consoleErrors.length = 0;

    await page.getByTestId("login-password").fill(password);
    await page.getByTestId("login-submit").click();
    await expect(page).toHaveURL(/\/upload$/);
    await waitForHydration(page);
    await expect(page.getByTestId("account-role")).toHaveText("viewer");
    await expect(page.getByTestId("role-notice")).toContainText(`Signed in as ${username}`);
    await expect(page.getByTestId("upload-form")).toBeHidden();
    await page.goto("/users");
    await waitForHydration(page);
    await expect(page.getByTestId("role-notice")).toContainText("admin");
    await expect(page.getByTestId("users-table")).toHaveCount(0);

    await page.getByTestId("logout").click();
    await expect(page.getByTestId("login-link")).toBeVisible();
    const me = await (await page.request.get("/auth/me")).json();
    expect(me.user, "the session ended on the server").toBeNull();
  });
});

test("an admin creates an API token, shown once, and reads the audit trail", async ({ page }) => {
  await page.goto("/users");
  await waitForHydration(page);
  await expect(page.getByTestId("users-table")).toContainText("admin");
  await page.getByTestId("token-name").fill("pacs-sync");
  await page.getByTestId("token-role").selectOption("annotator");
  await page.getByTestId("create-token").click();
  await expect(page.getByTestId("created-token")).toContainText("bsk_");
  await expect(page.getByTestId("tokens-table")).toContainText("pacs-sync");
  // The form is ready for the next token; the secret can be copied, then hidden.
  await expect(page.getByTestId("token-name")).toHaveValue("");
  const secret = (await page.locator("[data-testid=created-token] code.secret").textContent()) ?? "";
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.getByTestId("copy-token").click();
  await expect(page.getByTestId("copy-token")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await page.getByTestId("clear-token").click();
  await expect(page.getByTestId("created-token")).toHaveCount(0);
  const audit = page.getByTestId("audit-table");
  await expect(audit).toContainText("token.create");
  await expect(audit).toContainText("login");
});
