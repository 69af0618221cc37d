import { test as setup, expect } from "@playwright/test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ADMIN, STORAGE_STATE, TOKEN_FILE } from "./accounts";

/** Logs in through the login page as the bootstrap admin; the other specs start from that session. */
setup("log in as the first admin and create an API token for the REST helpers", async ({ page }) => {
  await page.goto("/login");
  await expect(page.locator(".layout")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("login-username").fill(ADMIN.username);
  await page.getByTestId("login-password").fill(ADMIN.password);
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("account-role")).toHaveText("admin");
  const origin = new URL(page.url()).origin;
  const response = await page.request.post("/auth/tokens/create", {
    data: { name: "e2e helpers", role: "admin" },
    headers: { origin },
  });
  expect(response.ok(), await response.text()).toBeTruthy();
  mkdirSync(dirname(TOKEN_FILE), { recursive: true });
  writeFileSync(TOKEN_FILE, (await response.json()).token);
  await page.context().storageState({ path: STORAGE_STATE });
});
